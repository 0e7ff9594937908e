// A short two-tone beep with WebAudio: no audio file to load. Browsers only play sound after
// the visitor interacted with the page; a blocked context stays silent.
type AudioCtor = typeof AudioContext;

let ctx: AudioContext | null = null;

export function beep(w: Window): void {
  try {
    const g = w as unknown as { AudioContext?: AudioCtor; webkitAudioContext?: AudioCtor };
    const Ctor = g.AudioContext || g.webkitAudioContext;
    if (!Ctor) return;
    ctx = ctx || new Ctor();
    if (ctx.state === 'suspended') void ctx.resume().catch(() => {});
    const t = ctx.currentTime;
    const gain = ctx.createGain();
    gain.connect(ctx.destination);
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.15, t + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.3);
    const osc = ctx.createOscillator();
    osc.type = 'sine';
    osc.frequency.setValueAtTime(880, t);
    osc.frequency.setValueAtTime(1175, t + 0.12);
    osc.connect(gain);
    osc.start(t);
    osc.stop(t + 0.32);
  } catch {
    /* no sound is fine */
  }
}
