//! The authorization policy: who may read or write what. Every check at the HTTP and
//! real-time edge, and the checks storage repeats inside its transactions, call these
//! functions, so a rule changes in one place. They are pure; callers load the facts.
//!
//! Workspace isolation is not decided here: every storage query is scoped by the caller's
//! workspace, so an id from another workspace is simply not found.

use crate::error::Error;
use crate::model::{
    Account, AccountKind, ConversationKind, Message, MessageKind, Participant, ParticipantRole,
    StaffRole,
};

/// May `account` read the conversation, given its participation (`None` if it never was a
/// participant)? Staff read every conversation of their workspace (the support desk's "all"
/// view); a contact only the ones it currently takes part in.
pub fn may_read(account: &Account, participant: Option<&Participant>) -> bool {
    match account.kind {
        AccountKind::Staff => true,
        AccountKind::Contact => participant.is_some_and(|p| p.left_at.is_none()),
    }
}

/// May `account` post a message of `kind`? Notes, system and event messages are staff-only.
pub fn may_post_kind(account: &Account, kind: MessageKind) -> Result<(), Error> {
    match (account.kind, kind) {
        (_, MessageKind::Text) | (AccountKind::Staff, _) => Ok(()),
        (AccountKind::Contact, MessageKind::Note) => {
            Err(Error::forbidden("only staff can write internal notes"))
        }
        (AccountKind::Contact, _) => Err(Error::forbidden("contacts can only send text messages")),
    }
}

/// May `account` (a participant, or staff) see this message? Internal notes are staff-only;
/// a `since_joined` participant sees nothing before it joined.
pub fn may_see_message(
    account: &Account,
    participant: Option<&Participant>,
    message: &Message,
) -> bool {
    if message.kind == MessageKind::Note && !account.is_staff() {
        return false;
    }
    participant.is_none_or(|p| message.seq >= p.history_from_seq)
}

/// May `account` delete `message`? Senders delete their own messages; owners and admins may
/// delete any (moderation).
pub fn may_delete_message(account: &Account, message: &Message) -> Result<(), Error> {
    let moderator = matches!(account.role, Some(StaffRole::Owner | StaffRole::Admin));
    if message.sender_id == Some(account.id) || moderator {
        Ok(())
    } else {
        Err(Error::forbidden("you can only delete your own messages"))
    }
}

/// Adding, removing and changing participants, and changing a conversation's status or
/// subject, are staff decisions.
pub fn may_manage(account: &Account) -> Result<(), Error> {
    if account.is_staff() {
        Ok(())
    } else {
        Err(Error::forbidden("only staff can manage conversations"))
    }
}

/// May `account` create a conversation of `kind` with these participants? Staff may create
/// any; a contact may only open a support conversation for itself (the widget's "start a
/// chat"). Direct threads between contacts are created by the host platform's backend with
/// a staff token, so one contact cannot open threads with arbitrary others.
pub fn may_create(
    account: &Account,
    kind: ConversationKind,
    participants: &[(crate::ids::AccountId, ParticipantRole)],
) -> Result<(), Error> {
    if account.is_staff() {
        return Ok(());
    }
    let only_self_as_customer = participants
        .iter()
        .all(|(id, role)| *id == account.id && *role == ParticipantRole::Customer);
    if kind == ConversationKind::Support && only_self_as_customer {
        Ok(())
    } else {
        Err(Error::forbidden(
            "contacts can only start support conversations for themselves",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AccountId, ConversationId, MessageId, WorkspaceId};
    use crate::model::{IdentityState, MessageFormat, Visibility};

    fn account(kind: AccountKind) -> Account {
        Account {
            id: AccountId(1),
            workspace_id: WorkspaceId(1),
            kind,
            role: (kind == AccountKind::Staff).then_some(StaffRole::Agent),
            identity: (kind == AccountKind::Contact).then_some(IdentityState::Identified),
            external_id: None,
            name: None,
            email: None,
            avatar_url: None,
            created_at: 0,
        }
    }

    fn participant(history_from_seq: i64, left_at: Option<i64>) -> Participant {
        Participant {
            conversation_id: ConversationId(1),
            account_id: AccountId(1),
            role: ParticipantRole::ThirdParty,
            visibility: Visibility::SinceJoined,
            history_from_seq,
            joined_at: 0,
            left_at,
            read_seq: 0,
            delivered_seq: 0,
        }
    }

    fn message(kind: MessageKind, seq: i64) -> Message {
        Message {
            id: MessageId(1),
            conversation_id: ConversationId(1),
            seq,
            sender_id: None,
            kind,
            format: MessageFormat::Plain,
            body: String::new(),
            client_msg_id: None,
            created_at: 0,
            edited_at: None,
            deleted_at: None,
            reactions: vec![],
        }
    }

    #[test]
    fn a_contact_reads_only_conversations_it_still_takes_part_in() {
        let contact = account(AccountKind::Contact);
        assert!(!may_read(&contact, None));
        assert!(!may_read(&contact, Some(&participant(1, Some(5)))));
        assert!(may_read(&contact, Some(&participant(1, None))));
        assert!(may_read(&account(AccountKind::Staff), None));
    }

    #[test]
    fn a_note_is_never_visible_to_a_contact() {
        let contact = account(AccountKind::Contact);
        let p = participant(1, None);
        assert!(!may_see_message(
            &contact,
            Some(&p),
            &message(MessageKind::Note, 3)
        ));
        assert!(may_see_message(
            &account(AccountKind::Staff),
            None,
            &message(MessageKind::Note, 3)
        ));
        assert!(may_post_kind(&contact, MessageKind::Note).is_err());
    }

    #[test]
    fn a_since_joined_participant_sees_nothing_before_it_joined() {
        let contact = account(AccountKind::Contact);
        let p = participant(10, None);
        assert!(!may_see_message(
            &contact,
            Some(&p),
            &message(MessageKind::Text, 9)
        ));
        assert!(may_see_message(
            &contact,
            Some(&p),
            &message(MessageKind::Text, 10)
        ));
    }

    #[test]
    fn a_contact_may_only_open_a_support_chat_for_itself() {
        let contact = account(AccountKind::Contact);
        let me = [(AccountId(1), ParticipantRole::Customer)];
        let other = [(AccountId(2), ParticipantRole::Customer)];
        assert!(may_create(&contact, ConversationKind::Support, &me).is_ok());
        assert!(may_create(&contact, ConversationKind::Direct, &me).is_err());
        assert!(may_create(&contact, ConversationKind::Support, &other).is_err());
    }
}
