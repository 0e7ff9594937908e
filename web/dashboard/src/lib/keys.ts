// Keyboard shortcuts. Single keys never fire while the agent types in a field (composer,
// search, forms); there only Escape works (it leaves the field).

export type Shortcut =
  | 'next'
  | 'prev'
  | 'assign_me'
  | 'resolve'
  | 'archive'
  | 'reopen'
  | 'focus_search'
  | 'focus_composer'
  | 'toggle_select'
  | 'help'
  | 'escape';

export interface KeyInput {
  key: string;
  ctrlKey?: boolean;
  metaKey?: boolean;
  altKey?: boolean;
  shiftKey?: boolean;
}

export interface TargetInfo {
  /** Upper-case tag name. */
  tag: string;
  /** contentEditable element. */
  editable?: boolean;
  /** For inputs: the type (checkboxes and buttons are not typing). */
  type?: string;
}

export const SHORTCUTS: { keys: string; what: string; shortcut: Shortcut }[] = [
  { keys: 'j', what: 'Next conversation', shortcut: 'next' },
  { keys: 'k', what: 'Previous conversation', shortcut: 'prev' },
  { keys: 'a', what: 'Assign to me', shortcut: 'assign_me' },
  { keys: 'r', what: 'Resolve', shortcut: 'resolve' },
  { keys: 'o', what: 'Reopen', shortcut: 'reopen' },
  { keys: 'e', what: 'Archive', shortcut: 'archive' },
  { keys: 'x', what: 'Select / unselect for bulk actions', shortcut: 'toggle_select' },
  { keys: '/', what: 'Search', shortcut: 'focus_search' },
  { keys: 'c', what: 'Write a reply', shortcut: 'focus_composer' },
  { keys: '?', what: 'Show shortcuts', shortcut: 'help' },
  { keys: 'Esc', what: 'Leave the field / close', shortcut: 'escape' },
];

const NON_TYPING_INPUTS = new Set(['checkbox', 'radio', 'button', 'submit', 'reset', 'range', 'color', 'file']);

export function isTyping(target: TargetInfo): boolean {
  if (target.editable) return true;
  if (target.tag === 'TEXTAREA' || target.tag === 'SELECT') return true;
  if (target.tag === 'INPUT') return !NON_TYPING_INPUTS.has((target.type ?? 'text').toLowerCase());
  return false;
}

export function shortcutFor(e: KeyInput, target: TargetInfo): Shortcut | null {
  if (e.key === 'Escape') return 'escape';
  if (e.ctrlKey || e.metaKey || e.altKey) return null;
  if (isTyping(target)) return null;
  switch (e.key) {
    case 'j':
      return 'next';
    case 'k':
      return 'prev';
    case 'a':
      return 'assign_me';
    case 'r':
      return 'resolve';
    case 'o':
      return 'reopen';
    case 'e':
      return 'archive';
    case 'x':
      return 'toggle_select';
    case '/':
      return 'focus_search';
    case 'c':
      return 'focus_composer';
    case '?':
      return 'help';
    default:
      return null;
  }
}
