//! The message load engine shared by the 1:1, fan-out and cross-node scenarios.
//!
//! Open loop: every sender connection has a schedule (message k is due at
//! `start + offset + k / rate`) and sends by the clock, not when the previous message was
//! acknowledged. Each message carries its *scheduled* send time (in its body and in the
//! `ref` of the `send` frame), and latencies are measured from that time. So when the server
//! stalls, the messages that should have gone out meanwhile are counted with the full delay
//! they suffered (no coordinated omission), even though the harness could only write them
//! late.
//!
//! Ack latency: scheduled send → `ack` on the sender's connection (the message is committed).
//! Delivery latency: scheduled send → `message_created` event on a receiver's connection.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use natter_core::ids::ConversationId;
use natter_core::protocol::ClientFrame;
use serde::Serialize;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{FrameView, Ws, connect};
use crate::stats::{CpuMeter, Latency, Summary, instant_of_micros, micros_since_start};

/// Frames written per flush at most when a sender has fallen behind its schedule.
const CATCH_UP_BATCH: u64 = 64;
/// Padding that brings a message body to a typical chat message size (~100 bytes).
const BODY_PADDING: &str =
    "lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod";
/// Phases started in this process (see [`Schedule::run`]).
static RUNS: AtomicU64 = AtomicU64::new(0);
/// How long after a phase a sender may still be writing its last messages.
const SEND_GRACE: Duration = Duration::from_secs(1);
/// Error texts kept per phase, to show what went wrong.
const ERROR_SAMPLES: usize = 5;

/// One sender connection: who sends into which conversation.
#[derive(Debug, Clone)]
pub struct SenderSpec {
    pub ws_url: String,
    pub token: String,
    pub conversation: i64,
}

/// One receiver connection.
#[derive(Debug, Clone)]
pub struct ReceiverSpec {
    pub ws_url: String,
    pub token: String,
}

struct PhaseStats {
    sent: u64,
    /// Due within the phase but never written: the server had stopped reading.
    unsent: u64,
    acked: u64,
    delivered: u64,
    errors: u64,
    error_samples: Vec<String>,
    ack: Latency,
    delivery: Latency,
}

#[derive(Default)]
struct Recorder {
    phases: Vec<PhaseStats>,
    /// Connections the server closed (or that failed) while the load was running.
    unexpected_closes: u64,
    close_samples: Vec<String>,
    /// Frames that could not be understood, or errors not tied to a phase.
    protocol_errors: u64,
}

fn lock(rec: &Mutex<Recorder>) -> MutexGuard<'_, Recorder> {
    // A panicking reader cannot leave the counters half-updated in a way that matters for
    // a report, so a poisoned lock is still usable.
    rec.lock().unwrap_or_else(|e| e.into_inner())
}

/// The outcome of one fixed-rate phase.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseResult {
    /// Messages per second the schedule asked for (all senders together).
    pub target_rate: f64,
    pub duration_s: f64,
    pub sent: u64,
    /// Messages due within the phase that could not be written (the server stopped reading).
    pub unsent: u64,
    pub acked: u64,
    /// `message_created` events received by receivers.
    pub delivered: u64,
    /// `sent` × receivers per message.
    pub expected_deliveries: u64,
    /// `error` frames answering sends.
    pub errors: u64,
    pub error_samples: Vec<String>,
    /// Connections closed under load during this phase.
    pub unexpected_closes: u64,
    /// Messages per second actually sent.
    pub send_rate: f64,
    /// Deliveries per second over the phase's send window.
    pub delivery_rate: f64,
    pub ack: Summary,
    pub delivery: Summary,
    /// CPU of the server process(es) during the phase, % of one core.
    pub server_cpu_percent: f64,
    /// CPU of the harness itself, % of one core (near 100 means the load generator, not the
    /// server, may be the limit).
    pub harness_cpu_percent: f64,
}

impl PhaseResult {
    /// Everything sent was acknowledged and delivered, without errors or dropped connections.
    pub fn complete(&self) -> bool {
        self.sent > 0
            && self.unsent == 0
            && self.acked == self.sent
            && self.delivered == self.expected_deliveries
            && self.errors == 0
            && self.unexpected_closes == 0
    }
}

/// A set of live sender and receiver connections.
pub struct Load {
    sinks: Vec<(SplitSink<Ws, Message>, i64)>,
    readers: Vec<JoinHandle<()>>,
    rec: Arc<Mutex<Recorder>>,
    /// Set before the harness closes connections itself, so those closes are not counted.
    closing: Arc<AtomicBool>,
    deliveries_per_message: u64,
    server_pids: Vec<u32>,
}

impl Load {
    /// Connects every sender and receiver (`hello` → `ready`). `deliveries_per_message` is
    /// how many receiver connections each message should reach.
    pub async fn connect(
        senders: &[SenderSpec],
        receivers: &[ReceiverSpec],
        deliveries_per_message: u64,
        server_pids: Vec<u32>,
    ) -> Result<Self> {
        let rec = Arc::new(Mutex::new(Recorder::default()));
        let closing = Arc::new(AtomicBool::new(false));
        let mut load = Load {
            sinks: Vec::new(),
            readers: Vec::new(),
            rec,
            closing,
            deliveries_per_message,
            server_pids,
        };
        // Receivers first, so nothing sent can miss them.
        let connected: Vec<Result<_>> = futures_util::stream::iter(receivers.iter())
            .map(|r| connect(&r.ws_url, &r.token))
            .buffered(64)
            .collect()
            .await;
        for c in connected {
            let (ws, ready) = c?;
            // A receiver never writes: its sink half is dropped, which does not close the
            // socket (the stream half still holds it). Pongs go out from within reads.
            let (_, stream) = ws.split();
            load.readers.push(tokio::spawn(read_loop(
                stream,
                ready.account_id,
                Arc::clone(&load.rec),
                Arc::clone(&load.closing),
            )));
        }
        for s in senders {
            let (ws, ready) = connect(&s.ws_url, &s.token).await?;
            let (sink, stream) = ws.split();
            load.readers.push(tokio::spawn(read_loop(
                stream,
                ready.account_id,
                Arc::clone(&load.rec),
                Arc::clone(&load.closing),
            )));
            load.sinks.push((sink, s.conversation));
        }
        Ok(load)
    }

    /// Runs one phase at `rate` messages per second for `duration`, then waits up to `drain`
    /// for the remaining acks and deliveries.
    pub async fn run_phase(
        &mut self,
        rate: f64,
        duration: Duration,
        drain: Duration,
    ) -> Result<PhaseResult> {
        if self.sinks.is_empty() || rate <= 0.0 {
            return Err(anyhow!("a phase needs senders and a positive rate"));
        }
        let (phase, closes_before) = {
            let mut rec = lock(&self.rec);
            rec.phases.push(PhaseStats {
                sent: 0,
                unsent: 0,
                acked: 0,
                delivered: 0,
                errors: 0,
                error_samples: Vec::new(),
                ack: Latency::new()?,
                delivery: Latency::new()?,
            });
            (rec.phases.len() - 1, rec.unexpected_closes)
        };
        let run = RUNS.fetch_add(1, Ordering::Relaxed);
        let senders = self.sinks.len();
        let interval = Duration::from_secs_f64(senders as f64 / rate);
        let server_cpu = CpuMeter::start(&self.server_pids)?;
        let harness_cpu = CpuMeter::start(&[std::process::id()])?;
        let start = Instant::now() + Duration::from_millis(20);
        let end = start + duration;
        let mut tasks = Vec::with_capacity(senders);
        for (i, (sink, conversation)) in std::mem::take(&mut self.sinks).into_iter().enumerate() {
            // Spread the senders' schedules evenly over one interval.
            let first = start + interval.mul_f64(i as f64 / senders as f64);
            let schedule = Schedule {
                run,
                phase,
                sender: i,
                first,
                end,
                interval,
            };
            tasks.push(tokio::spawn(send_loop(
                sink,
                conversation,
                schedule,
                Arc::clone(&self.rec),
            )));
        }
        let mut failure = None;
        for task in tasks {
            match task.await {
                Ok(Ok(sender)) => self.sinks.push(sender),
                Ok(Err(e)) => failure = Some(e),
                Err(e) => failure = Some(anyhow!("a sender task failed: {e}")),
            }
        }
        if let Some(e) = failure {
            return Err(e.context("sending"));
        }
        let sent_window = start.elapsed().min(duration).max(Duration::from_millis(1));

        let deadline = Instant::now() + drain;
        loop {
            {
                let rec = lock(&self.rec);
                let p = &rec.phases[phase];
                if p.acked >= p.sent && p.delivered >= p.sent * self.deliveries_per_message {
                    break;
                }
            }
            if Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let server_cpu_percent = server_cpu.percent()?;
        let harness_cpu_percent = harness_cpu.percent()?;
        let rec = lock(&self.rec);
        let p = &rec.phases[phase];
        let secs = sent_window.as_secs_f64();
        Ok(PhaseResult {
            target_rate: rate,
            duration_s: secs,
            sent: p.sent,
            unsent: p.unsent,
            acked: p.acked,
            delivered: p.delivered,
            expected_deliveries: p.sent * self.deliveries_per_message,
            errors: p.errors,
            error_samples: p.error_samples.clone(),
            unexpected_closes: rec.unexpected_closes - closes_before,
            send_rate: p.sent as f64 / secs,
            delivery_rate: p.delivered as f64 / secs,
            ack: p.ack.summary(),
            delivery: p.delivery.summary(),
            server_cpu_percent,
            harness_cpu_percent,
        })
    }

    /// Frames that were not understood, and closes with their reasons, over the whole load.
    pub fn protocol_errors(&self) -> (u64, Vec<String>) {
        let rec = lock(&self.rec);
        (rec.protocol_errors, rec.close_samples.clone())
    }

    /// Closes every connection.
    pub async fn close(mut self) {
        self.closing.store(true, Ordering::SeqCst);
        // Close handshakes are polite; all at once, and not waiting long for a server that
        // is busy or gone.
        let closes = self.sinks.drain(..).map(|(mut sink, _)| async move {
            let _ = sink.close().await;
        });
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            futures_util::future::join_all(closes),
        )
        .await;
        for reader in &self.readers {
            reader.abort();
        }
    }
}

/// The body of a benchmark message: phase and scheduled send time, padded to a typical size.
fn body(phase: usize, scheduled_micros: u64) -> String {
    format!("nb {phase} {scheduled_micros} {BODY_PADDING}")
}

/// Reads (phase, scheduled send time) back out of a benchmark message body.
fn parse_body(body: &str) -> Option<(usize, u64)> {
    let mut parts = body.split(' ');
    if parts.next()? != "nb" {
        return None;
    }
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// Reads (phase, scheduled send time) out of a `ref` ("phase:micros:k").
fn parse_ref(req: &str) -> Option<(usize, u64)> {
    let mut parts = req.split(':');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// When one sender sends during a phase.
struct Schedule {
    /// Unique per phase in this process, so idempotency keys never repeat across loads that
    /// reuse the same accounts and conversations.
    run: u64,
    phase: usize,
    /// The sender's index, part of its idempotency keys.
    sender: usize,
    /// When its first message is due.
    first: Instant,
    /// Nothing is due at or after this.
    end: Instant,
    interval: Duration,
}

async fn send_loop(
    mut sink: SplitSink<Ws, Message>,
    conversation: i64,
    schedule: Schedule,
    rec: Arc<Mutex<Recorder>>,
) -> Result<(SplitSink<Ws, Message>, i64)> {
    let Schedule {
        run,
        phase,
        sender,
        first,
        end,
        interval,
    } = schedule;
    let mut k: u64 = 0;
    let due = |k: u64| first + interval.mul_f64(k as f64);
    // A server that stopped reading leaves the socket buffer full and every write waiting;
    // the sender gives up shortly after the phase instead of queueing without end.
    let give_up = end + SEND_GRACE;
    let mut stalled = false;
    while due(k) < end && !stalled {
        tokio::time::sleep_until(due(k).into()).await;
        // Send everything that is due by now: after a stall (a full socket buffer), the
        // messages that should have gone out meanwhile go out at once, with their original
        // scheduled times.
        let now = Instant::now();
        let mut batch = 0;
        while batch < CATCH_UP_BATCH && due(k) <= now && due(k) < end {
            let scheduled = micros_since_start(due(k));
            let frame = ClientFrame::Send {
                req: Some(format!("{phase}:{scheduled}:{k}")),
                conversation_id: ConversationId(conversation),
                // Unique per sending account and conversation, as idempotency keys must be
                // (several connections of one account may send into one conversation).
                client_msg_id: Some(format!("{run}-{phase}-{sender}-{k}")),
                kind: None,
                format: None,
                body: body(phase, scheduled),
            };
            let text = Message::Text(serde_json::to_string(&frame)?.into());
            match tokio::time::timeout_at(give_up.into(), sink.feed(text)).await {
                Ok(written) => written?,
                Err(_) => {
                    stalled = true;
                    break;
                }
            }
            k += 1;
            batch += 1;
        }
        lock(&rec).phases[phase].sent += batch;
        if !stalled {
            match tokio::time::timeout_at(give_up.into(), sink.flush()).await {
                Ok(flushed) => flushed?,
                Err(_) => stalled = true,
            }
        }
    }
    // Whatever was due but never written counts against the phase.
    let mut unsent = 0;
    while due(k) < end {
        unsent += 1;
        k += 1;
    }
    lock(&rec).phases[phase].unsent += unsent;
    Ok((sink, conversation))
}

fn record_frame(text: &str, me: i64, rec: &Mutex<Recorder>) {
    let now = Instant::now();
    let Ok(frame) = serde_json::from_str::<FrameView>(text) else {
        lock(rec).protocol_errors += 1;
        return;
    };
    match frame.kind.as_ref() {
        "ack" => {
            let Some((phase, scheduled)) = frame.req.as_deref().and_then(parse_ref) else {
                lock(rec).protocol_errors += 1;
                return;
            };
            let latency = now.saturating_duration_since(instant_of_micros(scheduled));
            let mut rec = lock(rec);
            if let Some(p) = rec.phases.get_mut(phase) {
                p.acked += 1;
                p.ack.record(latency);
                // Every send has a fresh idempotency key: a duplicate means nothing was stored.
                if frame.duplicate == Some(true) {
                    p.errors += 1;
                    if p.error_samples.len() < ERROR_SAMPLES {
                        p.error_samples.push("ack with duplicate: true".to_string());
                    }
                }
            }
        }
        "error" => {
            let text = format!(
                "{}: {}",
                frame.code.as_deref().unwrap_or("?"),
                frame.message.as_deref().unwrap_or("")
            );
            let mut rec = lock(rec);
            match frame.req.as_deref().and_then(parse_ref) {
                Some((phase, _)) if phase < rec.phases.len() => {
                    let p = &mut rec.phases[phase];
                    p.errors += 1;
                    if p.error_samples.len() < ERROR_SAMPLES {
                        p.error_samples.push(text);
                    }
                }
                _ => rec.protocol_errors += 1,
            }
        }
        "event" => {
            let Some(message) = frame
                .data
                .filter(|d| d.kind == "message_created")
                .and_then(|d| d.message)
            else {
                return;
            };
            // A sender's own connections see its messages too; only other members count.
            if message.sender_id == Some(me) {
                return;
            }
            let Some((phase, scheduled)) = parse_body(&message.body) else {
                return;
            };
            let latency = now.saturating_duration_since(instant_of_micros(scheduled));
            let mut rec = lock(rec);
            if let Some(p) = rec.phases.get_mut(phase) {
                p.delivered += 1;
                p.delivery.record(latency);
            }
        }
        _ => {}
    }
}

fn record_close(reason: String, rec: &Mutex<Recorder>, closing: &AtomicBool) {
    if closing.load(Ordering::SeqCst) {
        return;
    }
    let mut rec = lock(rec);
    rec.unexpected_closes += 1;
    if rec.close_samples.len() < ERROR_SAMPLES {
        rec.close_samples.push(reason);
    }
}

async fn read_loop(
    mut stream: SplitStream<Ws>,
    me: i64,
    rec: Arc<Mutex<Recorder>>,
    closing: Arc<AtomicBool>,
) {
    loop {
        match stream.next().await {
            Some(Ok(Message::Text(text))) => record_frame(&text, me, &rec),
            Some(Ok(Message::Close(frame))) => {
                record_close(format!("closed by server: {frame:?}"), &rec, &closing);
                return;
            }
            // Pings are answered by tungstenite itself.
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                record_close(format!("socket error: {e}"), &rec, &closing);
                return;
            }
            None => {
                record_close("socket ended".to_string(), &rec, &closing);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_carries_its_phase_and_scheduled_time() {
        assert_eq!(parse_body(&body(3, 123_456)), Some((3, 123_456)));
        assert_eq!(parse_body("hello there"), None);
    }

    #[test]
    fn a_ref_carries_its_phase_and_scheduled_time() {
        assert_eq!(parse_ref("2:99:7"), Some((2, 99)));
        assert_eq!(parse_ref("x"), None);
    }
}
