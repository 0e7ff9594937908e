// Notification sounds with Web Audio (no files to load): one short motif per event kind, at
// the agent's volume. Browsers play sound only after the page had a user gesture; a blocked
// context stays silent.
import type { NotifyKind } from './notify';

type AudioCtor = typeof AudioContext;
let ctx: AudioContext | null = null;

const MOTIFS: Record<NotifyKind, number[]> = {
  new_conversation: [660, 880, 1100],
  new_message: [880, 1175],
  assigned: [523, 784],
};

export function beep(kind: NotifyKind, volume: number): void {
  if (volume <= 0) return;
  try {
    const g = window as unknown as { AudioContext?: AudioCtor; webkitAudioContext?: AudioCtor };
    const Ctor = g.AudioContext || g.webkitAudioContext;
    if (!Ctor) return;
    ctx = ctx || new Ctor();
    if (ctx.state === 'suspended') void ctx.resume().catch(() => {});
    const t0 = ctx.currentTime;
    const peak = Math.max(0.0002, 0.25 * Math.min(1, volume));
    MOTIFS[kind].forEach((freq, i) => {
      const c = ctx as AudioContext;
      const t = t0 + i * 0.12;
      const gain = c.createGain();
      gain.connect(c.destination);
      gain.gain.setValueAtTime(0.0001, t);
      gain.gain.exponentialRampToValueAtTime(peak, t + 0.015);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.11);
      const osc = c.createOscillator();
      osc.type = 'sine';
      osc.frequency.setValueAtTime(freq, t);
      osc.connect(gain);
      osc.start(t);
      osc.stop(t + 0.12);
    });
  } catch {
    /* no sound is fine */
  }
}
