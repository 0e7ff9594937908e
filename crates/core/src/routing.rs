//! The routing engine: which waiting support conversation goes to which agent, where each
//! waiting customer stands in the queue, and how long they can expect to wait.
//!
//! Everything here is a pure function of a snapshot (the waiting conversations, the agents
//! with their current load, the teams' policies and the time). The server loads the snapshot,
//! calls [`assign`] and persists the result inside one serialised transaction per workspace;
//! `docs/routing.md` describes that side and is the long form of the rules below.
//!
//! # Queue order
//! Waiting conversations are ranked by priority (urgent first), then by `enqueued_at`
//! (first come, first served), then by conversation id so that the order is total. [`assign`]
//! walks the queue in that order; [`positions`] numbers it within each queue scope (the same
//! team and the same website).
//!
//! # Policy
//! A conversation's team picks its policy from `teams`; a conversation without a team, or
//! whose team has no entry, uses `default_policy`.
//! - **Round-robin**: the eligible agent assigned longest ago (smallest `last_assigned_at`),
//!   ties by smallest id.
//! - **Least-loaded**: the eligible agent with the smallest `load / capacity`, compared by
//!   integer cross-multiplication (no floats), ties by smallest `last_assigned_at`, then id.
//! - **Skills-based**: only agents holding every skill in `needs`, then as least-loaded.
//! - **Manual**: never assigned automatically; agents pull from the queue ([`can_take`] checks
//!   a pull).
//!
//! `needs` only restricts skills-based teams; the other policies ignore it.
//!
//! # Eligibility
//! An agent can take a conversation when the agent is online (away, busy and offline agents
//! receive nothing new), has `load < capacity` (so never with capacity 0), serves the conversation's website (`websites`
//! is `None`, or contains it; a conversation without a website may go to anyone), belongs to
//! the conversation's team when it has one, is not in `excluded`, and, for skills-based teams,
//! has every needed skill. The returning customer's `preferred_agent` wins whenever eligible.
//!
//! # One run
//! [`assign`] is greedy in queue order: each conversation goes to the best eligible agent with
//! room, and the working copy of that agent is updated at once (load + 1, stamped as the most
//! recently assigned with `now`, `now + 1`, …), so later picks in the same run see it.
//!
//! # What one run guarantees
//! - Capacity is never exceeded: an agent at or above capacity (including one whose capacity
//!   was lowered below its load) receives nothing.
//! - A conversation is assigned at most once, even if the input lists it twice (an agent
//!   listed twice counts once).
//! - No idle agent while an eligible chat waits: a waiting conversation is never skipped
//!   because one ahead of it cannot be served (no head-of-line blocking), and when a
//!   conversation finds every eligible agent full, conversations assigned earlier in the same
//!   run are moved to other eligible agents if that makes room (an augmenting path). So after
//!   a run no conversation waits while an eligible agent has room, the run serves as many
//!   conversations as any assignment could, and a conversation waits only if serving it would
//!   unseat one ranked ahead of it. Conversations assigned in earlier runs are never moved; a
//!   move may take a conversation off its preferred agent when that serves another customer.
//! - First come, first served within a priority among conversations the same agents can take.
//! - Round-robin fairness: with `k` equally eligible agents with room, `n` chats in one run
//!   give each agent `⌊n/k⌋` or `⌈n/k⌉`, because every pick stamps the agent with
//!   [`Assignment::assigned_at`], a time later than every stamp before it.
//!
//! # Estimated wait
//! [`estimate_wait_ms`] is `⌈position × avg_handle_ms / online_capacity⌉`: with every slot busy
//! one frees on average every `avg_handle_ms / online_capacity`, and the customer needs
//! `position` of them. [`mean_handle_ms`] averages recent chat durations and falls back to
//! [`FALLBACK_HANDLE_MS`] when there is no history.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{AccountId, ConversationId, WebsiteId};
use crate::time::Millis;

/// Declares an enum stored as text in the database and sent as the same string on the wire,
/// with one list of variants so the two can never disagree (the same shape as `model.rs`'s
/// `text_enum!`, which is private to that module).
macro_rules! routing_enum {
    ($(#[$attr:meta])* $name:ident { $($(#[$vattr:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$attr])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
        pub enum $name {
            $($(#[$vattr])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and wire form.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the stored form; `None` for anything else.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

routing_enum!(
    /// How urgently a conversation should be answered. Ordered: `Low < Normal < High <
    /// Urgent`, and the queue serves higher priorities first.
    #[derive(PartialOrd, Ord, Default)]
    Priority {
        Low => "low",
        #[default]
        Normal => "normal",
        High => "high",
        Urgent => "urgent",
    }
);

routing_enum!(
    /// How a team's waiting conversations are handed to its agents.
    Policy {
        /// The eligible agent assigned longest ago.
        RoundRobin => "round_robin",
        /// The eligible agent with the fewest open chats relative to capacity.
        LeastLoaded => "least_loaded",
        /// Agents holding every skill the conversation needs, then least-loaded.
        SkillsBased => "skills_based",
        /// Never assigned automatically; agents pull from the queue.
        Manual => "manual",
    }
);

routing_enum!(
    /// An agent's availability. Only `Online` agents receive new chats; the others keep the
    /// chats they already have.
    AgentStatus {
        Online => "online",
        Away => "away",
        Busy => "busy",
        Offline => "offline",
    }
);

/// An agent as the routing engine sees them at the start of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct AgentSnapshot {
    pub id: AccountId,
    pub status: AgentStatus,
    /// The most chats the agent handles at once.
    pub capacity: u32,
    /// The chats the agent has open now.
    pub load: u32,
    pub skills: BTreeSet<String>,
    pub teams: BTreeSet<i64>,
    /// The websites the agent serves; `None` serves every website.
    pub websites: Option<BTreeSet<WebsiteId>>,
    /// When the agent last received a chat; round-robin serves the oldest first.
    pub last_assigned_at: Millis,
}

/// A support conversation waiting for an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Waiting {
    pub conversation: ConversationId,
    /// The team (department) whose agents handle it; `None` lets any agent take it.
    pub team: Option<i64>,
    /// The website it came from; `None` lets an agent of any website take it.
    pub website: Option<WebsiteId>,
    pub priority: Priority,
    /// When it entered the queue; first come, first served within a priority.
    pub enqueued_at: Millis,
    /// Skills the agent must have; only skills-based teams look at them.
    pub needs: BTreeSet<String>,
    /// A returning customer's last agent, chosen first whenever eligible.
    pub preferred_agent: Option<AccountId>,
    /// Agents who must not get it (e.g. one who declined a transfer of it).
    pub excluded: BTreeSet<AccountId>,
}

/// The policy a team uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct TeamPolicy {
    pub team: i64,
    pub policy: Policy,
}

/// One decision of [`assign`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Assignment {
    pub conversation: ConversationId,
    pub agent: AccountId,
    /// The round-robin stamp of this assignment: `now`, `now + 1`, … in the order the engine
    /// picked. Store the largest one per agent as its `last_assigned_at` so the next run
    /// continues the same rotation.
    pub assigned_at: Millis,
}

/// The average chat duration assumed when there is no recent history: five minutes.
pub const FALLBACK_HANDLE_MS: Millis = 5 * 60 * 1000;

/// Queue order: higher priority first, then longer waiting, then smaller conversation id.
pub fn queue_order(a: &Waiting, b: &Waiting) -> Ordering {
    b.priority
        .cmp(&a.priority)
        .then(a.enqueued_at.cmp(&b.enqueued_at))
        .then(a.conversation.cmp(&b.conversation))
}

/// The policy for a conversation of `team`: the team's entry in `teams` (the first, should
/// there be several), or `default_policy` without a team or an entry.
pub fn policy_for(team: Option<i64>, teams: &[TeamPolicy], default_policy: Policy) -> Policy {
    team.and_then(|team| teams.iter().find(|t| t.team == team))
        .map_or(default_policy, |t| t.policy)
}

/// Whether `agent` may take `conversation` now under `policy`: every eligibility rule,
/// including free capacity. For skills-based teams this also requires the needed skills; for
/// manual teams it is the check for an agent pulling from the queue.
pub fn can_take(agent: &AgentSnapshot, conversation: &Waiting, policy: Policy) -> bool {
    serves(agent, conversation, policy) && agent.load < agent.capacity
}

/// Eligibility apart from the current load, which changes during a run.
fn serves(agent: &AgentSnapshot, conversation: &Waiting, policy: Policy) -> bool {
    agent.status == AgentStatus::Online
        // A zero-capacity agent can never take anything; leaving them out also keeps every
        // load ratio the engine compares well defined.
        && agent.capacity > 0
        && conversation
            .website
            .is_none_or(|w| agent.websites.as_ref().is_none_or(|ws| ws.contains(&w)))
        && conversation.team.is_none_or(|t| agent.teams.contains(&t))
        && !conversation.excluded.contains(&agent.id)
        && (policy != Policy::SkillsBased || conversation.needs.is_subset(&agent.skills))
}

/// Decides which waiting conversations go to which agents now. `now` orders round-robin: the
/// assignments are stamped `now`, `now + 1`, … (or just after the newest `last_assigned_at`
/// if that is later, so a clock that went backwards cannot break the rotation).
///
/// Returns the assignments in queue order. Conversations of manual teams are never assigned.
pub fn assign(
    waiting: &[Waiting],
    agents: &[AgentSnapshot],
    teams: &[TeamPolicy],
    default_policy: Policy,
    now: Millis,
) -> Vec<Assignment> {
    Run::new(waiting, agents, teams, default_policy, now).execute()
}

/// 1-based queue position of each waiting conversation among those competing for the same
/// agents (same team and website scope), priority first then waiting time. One entry per
/// input, in input order.
pub fn positions(waiting: &[Waiting]) -> Vec<(ConversationId, u32)> {
    let mut order: Vec<usize> = (0..waiting.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&waiting[a], &waiting[b]);
        (a.team, a.website)
            .cmp(&(b.team, b.website))
            .then_with(|| queue_order(a, b))
    });
    let mut position = vec![0u32; waiting.len()];
    let mut scope = None;
    let mut next = 0u32;
    for index in order {
        let this = Some((waiting[index].team, waiting[index].website));
        if this != scope {
            scope = this;
            next = 0;
        }
        next = next.saturating_add(1);
        position[index] = next;
    }
    waiting
        .iter()
        .zip(position)
        .map(|(w, p)| (w.conversation, p))
        .collect()
}

/// The total capacity of the online agents who serve the queue of `team` and `website` (the
/// `online_capacity` of [`estimate_wait_ms`]).
pub fn queue_capacity(
    agents: &[AgentSnapshot],
    team: Option<i64>,
    website: Option<WebsiteId>,
) -> u32 {
    agents
        .iter()
        .filter(|a| a.status == AgentStatus::Online)
        .filter(|a| team.is_none_or(|t| a.teams.contains(&t)))
        .filter(|a| website.is_none_or(|w| a.websites.as_ref().is_none_or(|ws| ws.contains(&w))))
        .fold(0u32, |sum, a| sum.saturating_add(a.capacity))
}

/// The mean of recent chat durations in milliseconds, or [`FALLBACK_HANDLE_MS`] without
/// history. Negative durations (a clock step) are ignored rather than dragging the mean down.
pub fn mean_handle_ms(recent_ms: &[Millis]) -> Millis {
    let valid = recent_ms.iter().filter(|&&d| d >= 0);
    let (count, sum) = valid.fold((0i128, 0i128), |(n, s), &d| (n + 1, s + i128::from(d)));
    if count == 0 {
        return FALLBACK_HANDLE_MS;
    }
    // The mean of values that fit in an i64 fits too.
    Millis::try_from(sum / count).unwrap_or(FALLBACK_HANDLE_MS)
}

/// Estimated wait for a position given recent handling: `avg_handle_ms` (mean chat duration
/// recently, see [`mean_handle_ms`] for the fallback) and the online agents' total capacity
/// for that queue. `⌈position × avg_handle_ms / online_capacity⌉`; `None` when nobody can
/// take it.
pub fn estimate_wait_ms(position: u32, avg_handle_ms: i64, online_capacity: u32) -> Option<i64> {
    if online_capacity == 0 {
        return None;
    }
    let work = i128::from(position) * i128::from(avg_handle_ms.max(0));
    let capacity = i128::from(online_capacity);
    let wait = (work + capacity - 1) / capacity;
    // Only absurd inputs overflow; "a very long time" is the honest answer then.
    Some(i64::try_from(wait).unwrap_or(i64::MAX))
}

/// The working state of one [`assign`] call.
struct Run<'a> {
    waiting: &'a [Waiting],
    desks: Vec<Desk<'a>>,
    teams: BTreeMap<i64, Policy>,
    default_policy: Policy,
    next_stamp: Millis,
    slots: Vec<Slot>,
    /// Per waiting index, the desks that serve it regardless of load (computed on demand:
    /// most runs stop early because nobody has room).
    eligible: Vec<Option<Vec<usize>>>,
}

/// An agent's working copy: load and stamp change as the run assigns.
struct Desk<'a> {
    agent: &'a AgentSnapshot,
    load: u32,
    last_assigned_at: Millis,
    /// The slots this run filled on this desk.
    slots: Vec<usize>,
}

/// A place this run filled on a desk. Moving conversations along an augmenting path changes
/// which conversation occupies a slot, never the slot's desk or stamp.
struct Slot {
    waiting: usize,
    desk: usize,
    at: Millis,
}

impl<'a> Run<'a> {
    fn new(
        waiting: &'a [Waiting],
        agents: &'a [AgentSnapshot],
        teams: &[TeamPolicy],
        default_policy: Policy,
        now: Millis,
    ) -> Self {
        // One desk per agent id: a duplicate snapshot would let the same agent be filled past
        // capacity twice over.
        let mut seen = BTreeSet::new();
        let desks: Vec<Desk<'a>> = agents
            .iter()
            .filter(|a| seen.insert(a.id))
            .map(|agent| Desk {
                agent,
                load: agent.load,
                last_assigned_at: agent.last_assigned_at,
                slots: Vec::new(),
            })
            .collect();
        let newest = desks.iter().map(|d| d.last_assigned_at).max();
        let next_stamp = newest.map_or(now, |n| now.max(n.saturating_add(1)));
        let mut policies = BTreeMap::new();
        for t in teams {
            policies.entry(t.team).or_insert(t.policy);
        }
        Self {
            waiting,
            desks,
            teams: policies,
            default_policy,
            next_stamp,
            slots: Vec::new(),
            eligible: vec![None; waiting.len()],
        }
    }

    fn execute(mut self) -> Vec<Assignment> {
        let order = self.queue();
        let mut free: u64 = self
            .desks
            .iter()
            .filter(|d| d.agent.status == AgentStatus::Online)
            .map(|d| u64::from(d.agent.capacity.saturating_sub(d.load)))
            .sum();
        for &index in &order {
            // Nobody online has room: nothing further can be assigned, and a long queue in a
            // saturated workspace is the common case worth stopping early for.
            if free == 0 {
                break;
            }
            if self.policy(index) == Policy::Manual {
                continue;
            }
            if self.place_directly(index) || self.place_by_moving(index) {
                free -= 1;
            }
        }

        let mut rank = vec![0usize; self.waiting.len()];
        for (position, &index) in order.iter().enumerate() {
            rank[index] = position;
        }
        let mut slots = self.slots;
        slots.sort_by_key(|s| rank[s.waiting]);
        slots
            .iter()
            .map(|s| Assignment {
                conversation: self.waiting[s.waiting].conversation,
                agent: self.desks[s.desk].agent.id,
                assigned_at: s.at,
            })
            .collect()
    }

    /// Waiting indices in queue order, each conversation once (its highest-ranked entry).
    fn queue(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.waiting.len()).collect();
        order.sort_by(|&a, &b| queue_order(&self.waiting[a], &self.waiting[b]));
        let mut seen = BTreeSet::new();
        order.retain(|&i| seen.insert(self.waiting[i].conversation));
        order
    }

    fn policy(&self, index: usize) -> Policy {
        self.waiting[index]
            .team
            .and_then(|t| self.teams.get(&t).copied())
            .unwrap_or(self.default_policy)
    }

    fn eligible(&mut self, index: usize) -> Vec<usize> {
        if let Some(Some(cached)) = self.eligible.get(index) {
            return cached.clone();
        }
        let policy = self.policy(index);
        let conversation = &self.waiting[index];
        let desks: Vec<usize> = (0..self.desks.len())
            .filter(|&d| serves(self.desks[d].agent, conversation, policy))
            .collect();
        if let Some(entry) = self.eligible.get_mut(index) {
            *entry = Some(desks.clone());
        }
        desks
    }

    fn has_room(&self, desk: usize) -> bool {
        self.desks[desk].load < self.desks[desk].agent.capacity
    }

    /// Orders desks best first for the conversation at `index`: its preferred agent, then the
    /// policy's rule, then the least recently assigned, then the smallest id.
    fn compare(&self, index: usize, a: usize, b: usize) -> Ordering {
        let (da, db) = (&self.desks[a], &self.desks[b]);
        let preferred = self.waiting[index].preferred_agent;
        let by_preference = (preferred == Some(db.agent.id)).cmp(&(preferred == Some(da.agent.id)));
        let by_policy = match self.policy(index) {
            Policy::RoundRobin | Policy::Manual => Ordering::Equal,
            // load_a / cap_a against load_b / cap_b without division; every compared desk
            // has capacity > 0 (see `serves`), so this is a total order.
            Policy::LeastLoaded | Policy::SkillsBased => (u64::from(da.load)
                * u64::from(db.agent.capacity))
            .cmp(&(u64::from(db.load) * u64::from(da.agent.capacity))),
        };
        by_preference
            .then(by_policy)
            .then(da.last_assigned_at.cmp(&db.last_assigned_at))
            .then(da.agent.id.cmp(&db.agent.id))
    }

    /// The best desk with room for the conversation at `index`, among `candidates`.
    fn choose(&self, index: usize, candidates: &[usize]) -> Option<usize> {
        candidates
            .iter()
            .copied()
            .filter(|&d| self.has_room(d))
            .min_by(|&a, &b| self.compare(index, a, b))
    }

    fn place(&mut self, index: usize, desk: usize) {
        let at = self.next_stamp;
        self.next_stamp = self.next_stamp.saturating_add(1);
        let slot = self.slots.len();
        self.slots.push(Slot {
            waiting: index,
            desk,
            at,
        });
        let d = &mut self.desks[desk];
        d.slots.push(slot);
        d.load += 1;
        d.last_assigned_at = at;
    }

    fn place_directly(&mut self, index: usize) -> bool {
        let eligible = self.eligible(index);
        match self.choose(index, &eligible) {
            Some(desk) => {
                self.place(index, desk);
                true
            }
            None => false,
        }
    }

    /// Every desk that serves the conversation at `index` is full. Searches (breadth first,
    /// so the fewest conversations move) for a chain of conversations assigned earlier in
    /// this run, each movable to the next desk, ending at a desk with room; shifts them along
    /// it and gives the freed slot to this conversation. Without this, greedy order could
    /// give the only French-speaking agent to a chat anyone could take and leave a later
    /// French chat waiting beside an idle agent's free slot.
    fn place_by_moving(&mut self, index: usize) -> bool {
        let mut roots = self.eligible(index);
        // The conversation ends on the first root the search frees, so offer its best ones
        // first.
        roots.sort_by(|&a, &b| self.compare(index, a, b));
        // Per desk: not reached; reached as a root; or reached by moving the conversation in
        // the given slot (on another desk) here.
        let mut reached: Vec<Option<Option<usize>>> = vec![None; self.desks.len()];
        let mut frontier = VecDeque::new();
        for desk in roots {
            if reached[desk].is_none() {
                reached[desk] = Some(None);
                frontier.push_back(desk);
            }
        }
        while let Some(desk) = frontier.pop_front() {
            let occupied = self.desks[desk].slots.clone();
            for slot in occupied {
                let moving = self.slots[slot].waiting;
                let eligible = self.eligible(moving);
                if let Some(target) = self.choose(moving, &eligible) {
                    self.place(moving, target);
                    self.shift(slot, desk, &reached, index);
                    return true;
                }
                for next in eligible {
                    if reached[next].is_none() {
                        reached[next] = Some(Some(slot));
                        frontier.push_back(next);
                    }
                }
            }
        }
        false
    }

    /// Walks an augmenting path back from `freed` (a slot on `desk` whose conversation just
    /// moved to a desk with room) to a root, moving each conversation one step forward, and
    /// puts the conversation at `index` into the root's freed slot.
    fn shift(
        &mut self,
        mut freed: usize,
        mut desk: usize,
        reached: &[Option<Option<usize>>],
        index: usize,
    ) {
        while let Some(Some(from)) = reached[desk] {
            self.slots[freed].waiting = self.slots[from].waiting;
            freed = from;
            desk = self.slots[from].desk;
        }
        self.slots[freed].waiting = index;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(id: i64) -> AgentSnapshot {
        AgentSnapshot {
            id: AccountId(id),
            status: AgentStatus::Online,
            capacity: 3,
            load: 0,
            skills: BTreeSet::new(),
            teams: BTreeSet::new(),
            websites: None,
            last_assigned_at: 0,
        }
    }

    fn chat(id: i64, enqueued_at: Millis) -> Waiting {
        Waiting {
            conversation: ConversationId(id),
            team: None,
            website: None,
            priority: Priority::Normal,
            enqueued_at,
            needs: BTreeSet::new(),
            preferred_agent: None,
            excluded: BTreeSet::new(),
        }
    }

    fn set<T: Ord + Clone>(items: &[T]) -> BTreeSet<T> {
        items.iter().cloned().collect()
    }

    fn skills(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    /// `(conversation, agent)` pairs, the shape most tests compare.
    fn pairs(assignments: &[Assignment]) -> Vec<(i64, i64)> {
        assignments
            .iter()
            .map(|a| (a.conversation.0, a.agent.0))
            .collect()
    }

    fn run(waiting: &[Waiting], agents: &[AgentSnapshot], policy: Policy) -> Vec<(i64, i64)> {
        pairs(&assign(waiting, agents, &[], policy, 1_000))
    }

    #[test]
    fn text_forms_round_trip_and_match_the_wire() {
        for p in Priority::ALL {
            assert_eq!(Priority::parse(p.as_str()), Some(*p));
            assert_eq!(
                serde_json::to_string(p).ok(),
                Some(format!("\"{}\"", p.as_str()))
            );
        }
        for p in Policy::ALL {
            assert_eq!(Policy::parse(p.as_str()), Some(*p));
            assert_eq!(
                serde_json::to_string(p).ok(),
                Some(format!("\"{}\"", p.as_str()))
            );
        }
        for s in AgentStatus::ALL {
            assert_eq!(AgentStatus::parse(s.as_str()), Some(*s));
        }
        assert_eq!(Policy::RoundRobin.as_str(), "round_robin");
        assert_eq!(Policy::parse("RoundRobin"), None);
        assert_eq!(Priority::default(), Priority::Normal);
    }

    #[test]
    fn priorities_are_ordered_from_low_to_urgent() {
        assert!(Priority::Low < Priority::Normal);
        assert!(Priority::Normal < Priority::High);
        assert!(Priority::High < Priority::Urgent);
    }

    #[test]
    fn nothing_waiting_or_nobody_online_assigns_nothing() {
        assert!(run(&[], &[agent(1)], Policy::RoundRobin).is_empty());
        assert!(run(&[chat(1, 0)], &[], Policy::RoundRobin).is_empty());
    }

    #[test]
    fn round_robin_picks_the_agent_assigned_longest_ago() {
        let mut a = agent(1);
        a.last_assigned_at = 500;
        let mut b = agent(2);
        b.last_assigned_at = 100;
        let mut c = agent(3);
        c.last_assigned_at = 300;
        let waiting = [chat(10, 0), chat(11, 1), chat(12, 2), chat(13, 3)];
        // b, c, a, then b again: each pick makes its agent the most recent.
        assert_eq!(
            run(&waiting, &[a, b, c], Policy::RoundRobin),
            vec![(10, 2), (11, 3), (12, 1), (13, 2)]
        );
    }

    #[test]
    fn round_robin_breaks_ties_by_smallest_agent_id() {
        assert_eq!(
            run(
                &[chat(10, 0)],
                &[agent(7), agent(3), agent(5)],
                Policy::RoundRobin
            ),
            vec![(10, 3)]
        );
    }

    #[test]
    fn round_robin_ignores_load() {
        let mut busy = agent(1);
        busy.load = 2;
        let mut idle = agent(2);
        idle.last_assigned_at = 10;
        assert_eq!(
            run(&[chat(10, 0)], &[busy, idle], Policy::RoundRobin),
            vec![(10, 1)]
        );
    }

    #[test]
    fn round_robin_spreads_one_run_evenly_across_equal_agents() {
        for n in 1..=20usize {
            let agents: Vec<AgentSnapshot> = (1..=4)
                .map(|id| {
                    let mut a = agent(id);
                    a.capacity = 10;
                    a
                })
                .collect();
            let waiting: Vec<Waiting> = (0..n).map(|i| chat(100 + i as i64, i as i64)).collect();
            let result = assign(&waiting, &agents, &[], Policy::RoundRobin, 1_000);
            assert_eq!(result.len(), n);
            for a in &agents {
                let got = result.iter().filter(|r| r.agent == a.id).count();
                assert!(
                    got == n / 4 || got == n.div_ceil(4),
                    "{n} chats gave agent {} {got}",
                    a.id
                );
            }
        }
    }

    #[test]
    fn assignments_are_stamped_from_now_in_pick_order() {
        let result = assign(
            &[chat(10, 0), chat(11, 1)],
            &[agent(1), agent(2)],
            &[],
            Policy::RoundRobin,
            5_000,
        );
        let stamps: Vec<Millis> = result.iter().map(|a| a.assigned_at).collect();
        assert_eq!(stamps, vec![5_000, 5_001]);
    }

    #[test]
    fn a_clock_behind_the_newest_stamp_still_continues_the_rotation() {
        let mut a = agent(1);
        a.last_assigned_at = 9_000;
        let result = assign(
            &[chat(10, 0)],
            &[a, agent(2)],
            &[],
            Policy::RoundRobin,
            5_000,
        );
        assert_eq!(result[0].agent, AccountId(2));
        assert_eq!(result[0].assigned_at, 9_001);
    }

    #[test]
    fn least_loaded_compares_load_relative_to_capacity() {
        let mut half = agent(1);
        half.capacity = 4;
        half.load = 2;
        let mut quarter = agent(2);
        quarter.capacity = 8;
        quarter.load = 2;
        assert_eq!(
            run(&[chat(10, 0)], &[half, quarter], Policy::LeastLoaded),
            vec![(10, 2)]
        );
    }

    #[test]
    fn least_loaded_breaks_equal_ratios_by_last_assigned_then_id() {
        let mut a = agent(1);
        a.capacity = 3;
        a.load = 1;
        a.last_assigned_at = 50;
        let mut b = agent(2);
        b.capacity = 6;
        b.load = 2;
        b.last_assigned_at = 20;
        assert_eq!(
            run(&[chat(10, 0)], &[a.clone(), b.clone()], Policy::LeastLoaded),
            vec![(10, 2)]
        );
        b.last_assigned_at = 50;
        assert_eq!(
            run(&[chat(10, 0)], &[b, a], Policy::LeastLoaded),
            vec![(10, 1)]
        );
    }

    #[test]
    fn least_loaded_sees_the_load_it_added_earlier_in_the_run() {
        let mut a = agent(1);
        a.capacity = 4;
        let mut b = agent(2);
        b.capacity = 4;
        b.load = 1;
        // a 0/4 beats b 1/4; then both are 1/4 and a was just stamped, so b; then a 1/4 beats
        // b 2/4.
        let waiting = [chat(10, 0), chat(11, 1), chat(12, 2)];
        assert_eq!(
            run(&waiting, &[a, b], Policy::LeastLoaded),
            vec![(10, 1), (11, 2), (12, 1)]
        );
    }

    #[test]
    fn skills_based_only_assigns_agents_holding_every_needed_skill() {
        let mut french = agent(1);
        french.skills = skills(&["fr"]);
        let mut french_billing = agent(2);
        french_billing.skills = skills(&["fr", "billing"]);
        french_billing.load = 2;
        let mut c = chat(10, 0);
        c.needs = skills(&["fr", "billing"]);
        assert_eq!(
            run(
                &[c.clone()],
                &[french.clone(), french_billing],
                Policy::SkillsBased
            ),
            vec![(10, 2)]
        );
        assert!(run(&[c], &[french], Policy::SkillsBased).is_empty());
    }

    #[test]
    fn skills_based_picks_the_least_loaded_qualified_agent() {
        let mut a = agent(1);
        a.skills = skills(&["fr", "de"]);
        a.load = 2;
        let mut b = agent(2);
        b.skills = skills(&["fr"]);
        b.load = 1;
        let mut c = chat(10, 0);
        c.needs = skills(&["fr"]);
        assert_eq!(run(&[c], &[a, b], Policy::SkillsBased), vec![(10, 2)]);
    }

    #[test]
    fn needs_are_ignored_outside_skills_based_teams() {
        let mut c = chat(10, 0);
        c.needs = skills(&["fr"]);
        for policy in [Policy::RoundRobin, Policy::LeastLoaded] {
            assert_eq!(run(&[c.clone()], &[agent(1)], policy), vec![(10, 1)]);
        }
    }

    #[test]
    fn manual_team_conversations_are_never_assigned() {
        let mut a = agent(1);
        a.teams = set(&[4]);
        let mut c = chat(10, 0);
        c.team = Some(4);
        let teams = [TeamPolicy {
            team: 4,
            policy: Policy::Manual,
        }];
        assert!(assign(&[c.clone()], &[a.clone()], &teams, Policy::RoundRobin, 0).is_empty());
        assert!(assign(&[chat(11, 0)], &[a.clone()], &[], Policy::Manual, 0).is_empty());
        // An agent pulling it is checked with `can_take`.
        assert!(can_take(&a, &c, Policy::Manual));
    }

    #[test]
    fn manual_conversations_do_not_hold_up_the_rest_of_the_queue() {
        let mut a = agent(1);
        a.teams = set(&[4]);
        let mut manual = chat(10, 0);
        manual.team = Some(4);
        manual.priority = Priority::Urgent;
        let teams = [TeamPolicy {
            team: 4,
            policy: Policy::Manual,
        }];
        let result = assign(&[manual, chat(11, 5)], &[a], &teams, Policy::RoundRobin, 0);
        assert_eq!(pairs(&result), vec![(11, 1)]);
    }

    #[test]
    fn preferred_agent_wins_when_eligible() {
        let mut favourite = agent(2);
        favourite.load = 2;
        favourite.last_assigned_at = 900;
        let mut c = chat(10, 0);
        c.preferred_agent = Some(AccountId(2));
        for policy in [Policy::RoundRobin, Policy::LeastLoaded, Policy::SkillsBased] {
            assert_eq!(
                run(&[c.clone()], &[agent(1), favourite.clone()], policy),
                vec![(10, 2)]
            );
        }
    }

    #[test]
    fn preferred_agent_is_passed_over_when_full_away_or_lacking_skills() {
        let mut c = chat(10, 0);
        c.preferred_agent = Some(AccountId(2));
        let mut full = agent(2);
        full.load = 3;
        assert_eq!(
            run(&[c.clone()], &[agent(1), full], Policy::RoundRobin),
            vec![(10, 1)]
        );
        let mut away = agent(2);
        away.status = AgentStatus::Away;
        assert_eq!(
            run(&[c.clone()], &[agent(1), away], Policy::RoundRobin),
            vec![(10, 1)]
        );
        c.needs = skills(&["fr"]);
        let mut french = agent(1);
        french.skills = skills(&["fr"]);
        assert_eq!(
            run(&[c], &[french, agent(2)], Policy::SkillsBased),
            vec![(10, 1)]
        );
    }

    #[test]
    fn excluded_agents_never_receive_the_conversation() {
        let mut c = chat(10, 0);
        c.excluded = set(&[AccountId(1)]);
        c.preferred_agent = Some(AccountId(1));
        assert_eq!(
            run(&[c.clone()], &[agent(1), agent(2)], Policy::RoundRobin),
            vec![(10, 2)]
        );
        assert!(run(&[c], &[agent(1)], Policy::LeastLoaded).is_empty());
    }

    #[test]
    fn only_online_agents_with_free_capacity_receive_chats() {
        let waiting = [chat(10, 0)];
        for status in [AgentStatus::Away, AgentStatus::Busy, AgentStatus::Offline] {
            let mut a = agent(1);
            a.status = status;
            assert!(
                run(&waiting, &[a], Policy::RoundRobin).is_empty(),
                "{status:?}"
            );
        }
        let mut full = agent(1);
        full.load = 3;
        assert!(run(&waiting, &[full], Policy::RoundRobin).is_empty());
        let mut lowered = agent(1);
        lowered.capacity = 1;
        lowered.load = 2;
        assert!(run(&waiting, &[lowered], Policy::LeastLoaded).is_empty());
        let mut none = agent(1);
        none.capacity = 0;
        assert!(run(&waiting, &[none], Policy::LeastLoaded).is_empty());
    }

    #[test]
    fn capacity_is_never_exceeded_within_a_run() {
        let mut a = agent(1);
        a.capacity = 2;
        a.load = 1;
        let mut b = agent(2);
        b.capacity = 1;
        let waiting: Vec<Waiting> = (0..5).map(|i| chat(10 + i, i)).collect();
        for policy in [Policy::RoundRobin, Policy::LeastLoaded, Policy::SkillsBased] {
            let result = run(&waiting, &[a.clone(), b.clone()], policy);
            assert_eq!(result.iter().filter(|(_, ag)| *ag == 1).count(), 1);
            assert_eq!(result.iter().filter(|(_, ag)| *ag == 2).count(), 1);
            assert_eq!(
                result.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
                vec![10, 11]
            );
        }
    }

    #[test]
    fn website_scoping_respects_the_websites_an_agent_serves() {
        let mut shop = agent(1);
        shop.websites = Some(set(&[WebsiteId(1)]));
        let mut blog = agent(2);
        blog.websites = Some(set(&[WebsiteId(2)]));
        blog.last_assigned_at = -1;
        let mut c = chat(10, 0);
        c.website = Some(WebsiteId(1));
        assert_eq!(
            run(&[c.clone()], &[shop, blog.clone()], Policy::RoundRobin),
            vec![(10, 1)]
        );
        // `websites: None` serves every website.
        assert_eq!(
            run(&[c.clone()], &[blog.clone(), agent(3)], Policy::RoundRobin),
            vec![(10, 3)]
        );
        assert!(run(&[c], &[blog.clone()], Policy::RoundRobin).is_empty());
        // A conversation without a website may go to anyone.
        assert_eq!(
            run(&[chat(11, 0)], &[blog], Policy::RoundRobin),
            vec![(11, 2)]
        );
    }

    #[test]
    fn team_conversations_go_only_to_team_members() {
        let mut sales = agent(1);
        sales.teams = set(&[1]);
        let mut support = agent(2);
        support.teams = set(&[2]);
        let mut c = chat(10, 0);
        c.team = Some(2);
        assert_eq!(
            run(&[c.clone()], &[sales.clone(), support], Policy::RoundRobin),
            vec![(10, 2)]
        );
        assert!(run(&[c], &[sales.clone()], Policy::RoundRobin).is_empty());
        // A conversation without a team may go to anyone.
        assert_eq!(
            run(&[chat(11, 0)], &[sales], Policy::RoundRobin),
            vec![(11, 1)]
        );
    }

    #[test]
    fn each_team_uses_its_own_policy_and_unknown_teams_the_default() {
        let teams = [
            TeamPolicy {
                team: 1,
                policy: Policy::LeastLoaded,
            },
            TeamPolicy {
                team: 2,
                policy: Policy::RoundRobin,
            },
        ];
        assert_eq!(
            policy_for(Some(1), &teams, Policy::Manual),
            Policy::LeastLoaded
        );
        assert_eq!(
            policy_for(Some(2), &teams, Policy::Manual),
            Policy::RoundRobin
        );
        assert_eq!(policy_for(Some(3), &teams, Policy::Manual), Policy::Manual);
        assert_eq!(
            policy_for(None, &teams, Policy::SkillsBased),
            Policy::SkillsBased
        );

        // Agent 1 was assigned long ago but is busier: least-loaded picks 2, round-robin 1.
        let mut a = agent(1);
        a.teams = set(&[1, 2]);
        a.load = 2;
        let mut b = agent(2);
        b.teams = set(&[1, 2]);
        b.last_assigned_at = 100;
        let mut one = chat(10, 0);
        one.team = Some(1);
        let mut two = chat(11, 0);
        two.team = Some(2);
        let ll = assign(
            &[one],
            &[a.clone(), b.clone()],
            &teams,
            Policy::Manual,
            1_000,
        );
        assert_eq!(pairs(&ll), vec![(10, 2)]);
        let rr = assign(&[two], &[a, b], &teams, Policy::Manual, 1_000);
        assert_eq!(pairs(&rr), vec![(11, 1)]);
    }

    #[test]
    fn higher_priority_is_served_before_older_lower_priority() {
        let mut a = agent(1);
        a.capacity = 1;
        let old = chat(10, 0);
        let mut urgent = chat(11, 500);
        urgent.priority = Priority::Urgent;
        let mut low = chat(12, 0);
        low.priority = Priority::Low;
        assert_eq!(
            run(
                &[old.clone(), urgent, low.clone()],
                &[a.clone()],
                Policy::RoundRobin
            ),
            vec![(11, 1)]
        );
        assert_eq!(run(&[low, old], &[a], Policy::RoundRobin), vec![(10, 1)]);
    }

    #[test]
    fn within_a_priority_the_longest_waiting_goes_first_then_smallest_id() {
        let mut a = agent(1);
        a.capacity = 2;
        let waiting = [chat(12, 300), chat(11, 200), chat(13, 200), chat(10, 400)];
        assert_eq!(
            run(&waiting, &[a], Policy::LeastLoaded),
            vec![(11, 1), (13, 1)]
        );
    }

    #[test]
    fn a_chat_nobody_can_take_does_not_block_the_chats_behind_it() {
        let mut c = chat(10, 0);
        c.needs = skills(&["fr"]);
        c.priority = Priority::Urgent;
        let result = run(&[c, chat(11, 5)], &[agent(1)], Policy::SkillsBased);
        assert_eq!(result, vec![(11, 1)]);
    }

    #[test]
    fn a_later_chat_needing_a_rare_skill_still_gets_the_only_qualified_agent() {
        // The generic chat ranks first and agent 1 (the only French speaker) would win it on
        // id; the French chat then finds agent 1 full. The engine moves the generic chat to
        // agent 2 instead of leaving agent 2 idle and the French chat waiting.
        let mut french = agent(1);
        french.capacity = 1;
        french.skills = skills(&["fr"]);
        let mut english = agent(2);
        english.capacity = 1;
        let generic = chat(10, 0);
        let mut needs_french = chat(11, 1);
        needs_french.needs = skills(&["fr"]);
        let result = run(
            &[generic, needs_french],
            &[french, english],
            Policy::SkillsBased,
        );
        assert_eq!(result, vec![(10, 2), (11, 1)]);
    }

    #[test]
    fn moves_several_chats_along_a_chain_when_that_makes_room() {
        // One slot each. Chat 10 (needs q) takes agent 1 on id over agent 2; chat 11 (needs
        // r) takes agent 2 on id over agent 3; chat 12 needs p, which only agent 1 has. Room
        // is made by moving 11 to agent 3 and 10 to agent 2.
        let mut one = agent(1);
        one.skills = skills(&["p", "q"]);
        let mut two = agent(2);
        two.skills = skills(&["q", "r"]);
        let mut three = agent(3);
        three.skills = skills(&["r"]);
        for a in [&mut one, &mut two, &mut three] {
            a.capacity = 1;
        }
        let mut c10 = chat(10, 0);
        c10.needs = skills(&["q"]);
        let mut c11 = chat(11, 1);
        c11.needs = skills(&["r"]);
        let mut c12 = chat(12, 2);
        c12.needs = skills(&["p"]);
        let result = assign(
            &[c10, c11, c12],
            &[one, two, three],
            &[],
            Policy::SkillsBased,
            100,
        );
        assert_eq!(pairs(&result), vec![(10, 2), (11, 3), (12, 1)]);
        // Each agent's slot keeps the stamp it was filled with; agent 3, filled by the move,
        // is the most recent.
        let stamps: Vec<Millis> = result.iter().map(|a| a.assigned_at).collect();
        assert_eq!(stamps, vec![101, 102, 100]);
    }

    #[test]
    fn an_earlier_chat_is_never_unseated_for_a_later_one() {
        let mut only = agent(1);
        only.capacity = 1;
        only.skills = skills(&["fr"]);
        let mut first = chat(10, 0);
        first.needs = skills(&["fr"]);
        let mut second = chat(11, 1);
        second.needs = skills(&["fr"]);
        second.priority = Priority::Low;
        assert_eq!(
            run(&[second, first], &[only, agent(2)], Policy::SkillsBased),
            vec![(10, 1)]
        );
    }

    #[test]
    fn a_conversation_listed_twice_is_assigned_once() {
        let waiting = [chat(10, 0), chat(10, 0)];
        assert_eq!(
            run(&waiting, &[agent(1), agent(2)], Policy::RoundRobin),
            vec![(10, 1)]
        );
    }

    #[test]
    fn an_agent_listed_twice_is_filled_only_to_capacity() {
        let mut a = agent(1);
        a.capacity = 1;
        let waiting = [chat(10, 0), chat(11, 1)];
        assert_eq!(
            run(&waiting, &[a.clone(), a], Policy::RoundRobin),
            vec![(10, 1)]
        );
    }

    #[test]
    fn positions_rank_by_priority_then_wait_within_each_team_and_website() {
        let mut urgent = chat(3, 900);
        urgent.priority = Priority::Urgent;
        let mut other_team = chat(4, 0);
        other_team.team = Some(1);
        let mut other_site = chat(5, 0);
        other_site.website = Some(WebsiteId(2));
        let mut low = chat(6, 0);
        low.priority = Priority::Low;
        let waiting = [
            chat(1, 100),
            chat(2, 50),
            urgent,
            other_team,
            other_site,
            low,
        ];
        let result: Vec<(i64, u32)> = positions(&waiting)
            .into_iter()
            .map(|(c, p)| (c.0, p))
            .collect();
        assert_eq!(result, vec![(1, 3), (2, 2), (3, 1), (4, 1), (5, 1), (6, 4)]);
    }

    #[test]
    fn positions_of_an_empty_queue_are_empty() {
        assert!(positions(&[]).is_empty());
    }

    #[test]
    fn queue_capacity_sums_the_online_agents_serving_the_queue() {
        let mut a = agent(1);
        a.capacity = 4;
        a.teams = set(&[1]);
        let mut b = agent(2);
        b.capacity = 2;
        b.teams = set(&[1]);
        b.websites = Some(set(&[WebsiteId(9)]));
        let mut away = agent(3);
        away.status = AgentStatus::Away;
        away.teams = set(&[1]);
        let agents = [a, b, away];
        assert_eq!(queue_capacity(&agents, Some(1), None), 6);
        assert_eq!(queue_capacity(&agents, Some(1), Some(WebsiteId(1))), 4);
        assert_eq!(queue_capacity(&agents, Some(2), None), 0);
    }

    #[test]
    fn estimate_is_position_times_handling_time_over_online_capacity() {
        assert_eq!(estimate_wait_ms(1, 600_000, 6), Some(100_000));
        assert_eq!(estimate_wait_ms(3, 600_000, 6), Some(300_000));
        // Rounded up: a wait is never promised shorter than it is.
        assert_eq!(estimate_wait_ms(1, 1_000, 3), Some(334));
        assert_eq!(estimate_wait_ms(0, 600_000, 6), Some(0));
    }

    #[test]
    fn estimate_is_none_when_nobody_can_take_the_chat() {
        assert_eq!(estimate_wait_ms(1, 600_000, 0), None);
    }

    #[test]
    fn estimate_survives_absurd_inputs() {
        assert_eq!(estimate_wait_ms(u32::MAX, i64::MAX, 1), Some(i64::MAX));
        assert_eq!(estimate_wait_ms(5, -10, 2), Some(0));
    }

    #[test]
    fn mean_handling_time_falls_back_without_history() {
        assert_eq!(mean_handle_ms(&[]), FALLBACK_HANDLE_MS);
        assert_eq!(mean_handle_ms(&[-5]), FALLBACK_HANDLE_MS);
        assert_eq!(mean_handle_ms(&[1_000, 3_000, -7]), 2_000);
        assert_eq!(mean_handle_ms(&[i64::MAX, i64::MAX]), i64::MAX);
    }

    #[test]
    fn can_take_applies_every_eligibility_rule_and_free_capacity() {
        let mut a = agent(1);
        a.teams = set(&[1]);
        a.skills = skills(&["fr"]);
        let mut c = chat(10, 0);
        c.team = Some(1);
        c.needs = skills(&["fr", "de"]);
        assert!(can_take(&a, &c, Policy::LeastLoaded));
        assert!(!can_take(&a, &c, Policy::SkillsBased));
        c.needs = skills(&["fr"]);
        assert!(can_take(&a, &c, Policy::SkillsBased));
        a.load = a.capacity;
        assert!(!can_take(&a, &c, Policy::SkillsBased));
    }

    /// Drives the engine through thousands of random steps and checks every guarantee after
    /// each one, against reference code written from the rules rather than from the engine.
    mod simulation {
        use super::*;

        /// xorshift64*: deterministic, dependency-free, plenty for test data.
        struct Rng(u64);

        impl Rng {
            fn new(seed: u64) -> Self {
                // A zero state would stay zero forever.
                Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
            }

            fn next(&mut self) -> u64 {
                let mut x = self.0;
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                self.0 = x;
                x.wrapping_mul(0x2545_F491_4F6C_DD1D)
            }

            fn below(&mut self, n: usize) -> usize {
                (self.next() % n as u64) as usize
            }

            fn percent(&mut self, p: usize) -> bool {
                self.below(100) < p
            }
        }

        const TEAMS: [TeamPolicy; 4] = [
            TeamPolicy {
                team: 1,
                policy: Policy::RoundRobin,
            },
            TeamPolicy {
                team: 2,
                policy: Policy::LeastLoaded,
            },
            TeamPolicy {
                team: 3,
                policy: Policy::SkillsBased,
            },
            TeamPolicy {
                team: 4,
                policy: Policy::Manual,
            },
        ];
        const ROUND_ROBIN_TEAM: i64 = 1;
        const MANUAL_TEAM: i64 = 4;
        const DEFAULT_POLICY: Policy = Policy::LeastLoaded;
        const SKILLS: [&str; 5] = ["en", "fr", "de", "billing", "tech"];
        const AGENTS: usize = 40;
        const STEPS: usize = 5_000;

        #[derive(Default, Debug)]
        struct Stats {
            assigned: usize,
            runs_with_free_capacity: usize,
            /// Runs after which a chat waits only because its eligible agents are full.
            runs_with_a_full_queue: usize,
            left_waiting_beside_free_capacity: usize,
            fairness_checks: usize,
            manual_pulls: usize,
            transfers: usize,
            most_waiting: usize,
        }

        struct World {
            rng: Rng,
            now: Millis,
            next_conversation: i64,
            agents: Vec<AgentSnapshot>,
            waiting: Vec<Waiting>,
            /// Open chats and the index of the agent handling each.
            active: Vec<(Waiting, usize)>,
            stats: Stats,
        }

        fn policy_of(w: &Waiting) -> Policy {
            policy_for(w.team, &TEAMS, DEFAULT_POLICY)
        }

        /// Queue order written out from the rules: priority, then arrival, then id.
        fn reference_order(a: &Waiting, b: &Waiting) -> Ordering {
            let key = |w: &Waiting| (std::cmp::Reverse(w.priority), w.enqueued_at, w.conversation);
            key(a).cmp(&key(b))
        }

        /// Eligibility apart from load, written out from the rules.
        fn eligible(a: &AgentSnapshot, w: &Waiting) -> bool {
            let policy = policy_of(w);
            if a.status != AgentStatus::Online || a.capacity == 0 {
                return false;
            }
            if let (Some(site), Some(sites)) = (w.website, &a.websites)
                && !sites.contains(&site)
            {
                return false;
            }
            if let Some(team) = w.team
                && !a.teams.contains(&team)
            {
                return false;
            }
            if w.excluded.contains(&a.id) {
                return false;
            }
            policy != Policy::SkillsBased || w.needs.iter().all(|n| a.skills.contains(n))
        }

        impl World {
            fn new(seed: u64) -> Self {
                let mut rng = Rng::new(seed);
                let agents = (0..AGENTS)
                    .map(|i| {
                        let mut teams = BTreeSet::from([(i % 4) as i64 + 1]);
                        if rng.percent(20) {
                            teams.insert(rng.below(4) as i64 + 1);
                        }
                        let websites = match rng.below(4) {
                            0 => None,
                            1 => Some(BTreeSet::from([WebsiteId(1)])),
                            2 => Some(BTreeSet::from([WebsiteId(2)])),
                            _ => Some(BTreeSet::from([WebsiteId(1), WebsiteId(2)])),
                        };
                        let mut skills: BTreeSet<String> = SKILLS
                            .iter()
                            .filter(|_| rng.percent(35))
                            .map(|s| s.to_string())
                            .collect();
                        if rng.percent(80) {
                            skills.insert("en".into());
                        }
                        AgentSnapshot {
                            id: AccountId(1_000 + i as i64),
                            status: if rng.percent(80) {
                                AgentStatus::Online
                            } else {
                                AgentStatus::Away
                            },
                            capacity: rng.below(5) as u32 + 1,
                            load: 0,
                            skills,
                            teams,
                            websites,
                            last_assigned_at: 0,
                        }
                    })
                    .collect();
                World {
                    rng,
                    now: 1_000_000,
                    next_conversation: 1,
                    agents,
                    waiting: Vec::new(),
                    active: Vec::new(),
                    stats: Stats::default(),
                }
            }

            fn step(&mut self) {
                // Time sometimes stands still so equal `enqueued_at` values occur.
                self.now += self.rng.below(3) as Millis;
                match self.rng.below(100) {
                    0..40 => self.arrive(None),
                    40..45 => self.burst(),
                    45..53 => self.change_status(),
                    53..59 => self.change_capacity(),
                    59..69 => self.pull_manually(),
                    69..73 => self.escalate(),
                    73..79 => self.transfer_back(),
                    79..83 => self.shift_starts(),
                    // A quiet moment: only resolutions and abandonment below.
                    _ => {}
                }
                // Chats end at a rate proportional to how many are open, so the load settles
                // near what the online agents can hold: some queues run full, others idle.
                if self.rng.below(80) < self.active.len() {
                    self.resolve();
                }
                // Customers give up more often the longer the queue, which keeps it from
                // growing without bound (conversations nobody can serve would otherwise pile
                // up) and the checks fast.
                if self.rng.below(100) < self.waiting.len() {
                    self.abandon();
                }
            }

            /// Several chats at once (a campaign went out), so one run assigns many.
            /// Half of them for the round-robin team, whose fairness is only visible when one
            /// run hands out several chats.
            fn burst(&mut self) {
                let team = if self.rng.percent(50) {
                    Some(ROUND_ROBIN_TEAM)
                } else {
                    self.random_team()
                };
                for _ in 0..self.rng.below(5) + 2 {
                    self.arrive(Some(team));
                }
            }

            /// Several agents come online together, so one run has many free agents.
            fn shift_starts(&mut self) {
                for _ in 0..self.rng.below(6) + 3 {
                    let agent = self.rng.below(AGENTS);
                    self.agents[agent].status = AgentStatus::Online;
                }
            }

            fn random_team(&mut self) -> Option<i64> {
                match self.rng.below(100) {
                    0..22 => Some(1),
                    22..44 => Some(2),
                    44..66 => Some(3),
                    66..88 => Some(4),
                    _ => None,
                }
            }

            /// A new chat, of `team` if given, else of a random team or none.
            fn arrive(&mut self, team: Option<Option<i64>>) {
                let team = team.unwrap_or_else(|| self.random_team());
                let rng = &mut self.rng;
                let website = match rng.below(10) {
                    0..2 => None,
                    2..6 => Some(WebsiteId(1)),
                    _ => Some(WebsiteId(2)),
                };
                let priority = match rng.below(100) {
                    0..15 => Priority::Low,
                    15..70 => Priority::Normal,
                    70..90 => Priority::High,
                    _ => Priority::Urgent,
                };
                // Other teams get needs too, which they must ignore.
                let mut needs = BTreeSet::new();
                if rng.percent(if team == Some(3) { 80 } else { 30 }) {
                    for _ in 0..=rng.below(2) {
                        needs.insert(SKILLS[rng.below(SKILLS.len())].to_string());
                    }
                }
                let preferred_agent = rng
                    .percent(15)
                    .then(|| AccountId(1_000 + rng.below(AGENTS) as i64));
                let mut excluded = BTreeSet::new();
                if rng.percent(8) {
                    excluded.insert(AccountId(1_000 + rng.below(AGENTS) as i64));
                }
                self.waiting.push(Waiting {
                    conversation: ConversationId(self.next_conversation),
                    team,
                    website,
                    priority,
                    enqueued_at: self.now,
                    needs,
                    preferred_agent,
                    excluded,
                });
                self.next_conversation += 1;
            }

            fn resolve(&mut self) {
                let (_, agent) = self.active.swap_remove(self.rng.below(self.active.len()));
                self.agents[agent].load -= 1;
            }

            fn change_status(&mut self) {
                let agent = self.rng.below(AGENTS);
                self.agents[agent].status = AgentStatus::ALL[self.rng.below(4)];
                // Online half the time, so the workforce neither vanishes nor saturates.
                if self.rng.percent(40) {
                    self.agents[agent].status = AgentStatus::Online;
                }
            }

            fn change_capacity(&mut self) {
                let agent = self.rng.below(AGENTS);
                // May drop below the current load: the agent keeps their chats, gets no more.
                self.agents[agent].capacity = self.rng.below(6) as u32;
            }

            /// An agent of the manual team takes the first chat in queue order they may take.
            fn pull_manually(&mut self) {
                let members: Vec<usize> = (0..AGENTS)
                    .filter(|&a| self.agents[a].teams.contains(&MANUAL_TEAM))
                    .collect();
                if members.is_empty() {
                    return;
                }
                let agent = members[self.rng.below(members.len())];
                let mut queue: Vec<usize> = (0..self.waiting.len()).collect();
                queue.sort_by(|&a, &b| reference_order(&self.waiting[a], &self.waiting[b]));
                let pick = queue.into_iter().find(|&i| {
                    let w = &self.waiting[i];
                    policy_of(w) == Policy::Manual
                        && can_take(&self.agents[agent], w, Policy::Manual)
                });
                if let Some(i) = pick {
                    let w = self.waiting.swap_remove(i);
                    self.agents[agent].load += 1;
                    self.active.push((w, agent));
                    self.stats.manual_pulls += 1;
                }
            }

            fn abandon(&mut self) {
                if !self.waiting.is_empty() {
                    self.waiting.swap_remove(self.rng.below(self.waiting.len()));
                }
            }

            fn escalate(&mut self) {
                if !self.waiting.is_empty() {
                    let i = self.rng.below(self.waiting.len());
                    self.waiting[i].priority = Priority::Urgent;
                }
            }

            /// The agent declined or let a transfer time out: back to the queue without them.
            fn transfer_back(&mut self) {
                if self.active.is_empty() {
                    return;
                }
                let (mut w, agent) = self.active.swap_remove(self.rng.below(self.active.len()));
                self.agents[agent].load -= 1;
                w.excluded.insert(self.agents[agent].id);
                w.enqueued_at = self.now;
                self.waiting.push(w);
                self.stats.transfers += 1;
            }

            /// Runs `assign`, checks the result against the state it was given, applies it
            /// and checks the positions of what is left.
            fn route(&mut self) {
                let result = assign(
                    &self.waiting,
                    &self.agents,
                    &TEAMS,
                    DEFAULT_POLICY,
                    self.now,
                );
                self.check(&result);
                self.apply(&result);
                self.check_positions();
                self.stats.most_waiting = self.stats.most_waiting.max(self.waiting.len());
            }

            fn check(&mut self, result: &[Assignment]) {
                let agents = &self.agents;
                let waiting = &self.waiting;
                let agent_index: BTreeMap<AccountId, usize> =
                    agents.iter().enumerate().map(|(i, a)| (a.id, i)).collect();
                let waiting_index: BTreeMap<ConversationId, usize> = waiting
                    .iter()
                    .enumerate()
                    .map(|(i, w)| (w.conversation, i))
                    .collect();
                let mut rank = vec![0usize; waiting.len()];
                let mut order: Vec<usize> = (0..waiting.len()).collect();
                order.sort_by(|&a, &b| reference_order(&waiting[a], &waiting[b]));
                for (r, &i) in order.iter().enumerate() {
                    rank[i] = r;
                }
                let autoroutable = |i: usize| policy_of(&waiting[i]) != Policy::Manual;

                // Well formed: waiting, auto-routed, eligible conversations, each once, in
                // queue order, stamped from `now` on without repeats.
                let mut served: BTreeMap<usize, usize> = BTreeMap::new();
                let mut stamps = BTreeSet::new();
                let mut added = vec![0u32; agents.len()];
                for a in result {
                    let w = waiting_index[&a.conversation];
                    let ag = agent_index[&a.agent];
                    assert!(
                        served.insert(w, ag).is_none(),
                        "{:?} assigned twice",
                        a.conversation
                    );
                    assert!(
                        autoroutable(w),
                        "manual conversation {:?} assigned",
                        a.conversation
                    );
                    assert!(eligible(&agents[ag], &waiting[w]), "{a:?} is not eligible");
                    assert!(a.assigned_at >= self.now && stamps.insert(a.assigned_at));
                    added[ag] += 1;
                }
                let ranks: Vec<usize> = result
                    .iter()
                    .map(|a| rank[waiting_index[&a.conversation]])
                    .collect();
                assert!(
                    ranks.windows(2).all(|p| p[0] < p[1]),
                    "assignments out of queue order"
                );

                // Capacity never exceeded.
                let load_after: Vec<u32> =
                    agents.iter().zip(&added).map(|(a, n)| a.load + n).collect();
                for (i, a) in agents.iter().enumerate() {
                    assert!(
                        added[i] == 0 || load_after[i] <= a.capacity,
                        "agent {} over capacity",
                        a.id
                    );
                }
                let has_room = |i: usize| load_after[i] < agents[i].capacity;

                // No idle agent while an eligible chat waits.
                for w in (0..waiting.len()).filter(|&w| autoroutable(w) && !served.contains_key(&w))
                {
                    if let Some(a) = (0..agents.len())
                        .find(|&a| has_room(a) && eligible(&agents[a], &waiting[w]))
                    {
                        panic!(
                            "{:?} waits while agent {} has room",
                            waiting[w].conversation, agents[a].id
                        );
                    }
                }

                // As many served as any assignment could.
                let free: Vec<u32> = agents
                    .iter()
                    .map(|a| {
                        if a.status == AgentStatus::Online {
                            a.capacity.saturating_sub(a.load)
                        } else {
                            0
                        }
                    })
                    .collect();
                let candidates: Vec<usize> =
                    (0..waiting.len()).filter(|&w| autoroutable(w)).collect();
                if free.iter().any(|&f| f > 0) && !candidates.is_empty() {
                    self.stats.runs_with_free_capacity += 1;
                    let best = maximum_matching(&candidates, waiting, agents, &free);
                    assert_eq!(result.len(), best, "served fewer than possible");
                    if result.len() < candidates.len() {
                        self.stats.left_waiting_beside_free_capacity += 1;
                    }
                }

                // FIFO within a priority among conversations the same agents can take: a
                // waiting conversation never ranks ahead of a served one with the same set.
                let key = |w: usize| -> Vec<usize> {
                    (0..agents.len())
                        .filter(|&a| eligible(&agents[a], &waiting[w]))
                        .collect()
                };
                let mut first_left: BTreeMap<Vec<usize>, usize> = BTreeMap::new();
                let mut full_queue = false;
                for &w in candidates.iter().filter(|w| !served.contains_key(w)) {
                    let eligible = key(w);
                    full_queue |= !eligible.is_empty();
                    let e = first_left.entry(eligible).or_insert(rank[w]);
                    *e = (*e).min(rank[w]);
                }
                self.stats.runs_with_a_full_queue += usize::from(full_queue);
                if !first_left.is_empty() {
                    for &w in served.keys() {
                        if let Some(&left) = first_left.get(&key(w)) {
                            assert!(
                                left > rank[w],
                                "{:?} served before an equal one ranked ahead",
                                waiting[w].conversation
                            );
                        }
                    }
                }

                // A preferred agent with room to spare got the chat.
                for (&w, &ag) in &served {
                    if let Some(p) = waiting[w]
                        .preferred_agent
                        .and_then(|p| agent_index.get(&p).copied())
                        && eligible(&agents[p], &waiting[w])
                        && has_room(p)
                    {
                        assert_eq!(
                            ag, p,
                            "{:?} passed over its free preferred agent",
                            waiting[w].conversation
                        );
                    }
                }

                // Round-robin fairness: among the team's agents who could take every
                // round-robin chat of this run, never ran out of room and got nothing else
                // (and no preferred pick), the counts differ by at most one.
                let round_robin: Vec<(usize, usize)> = served
                    .iter()
                    .map(|(&w, &a)| (w, a))
                    .filter(|&(w, _)| waiting[w].team == Some(ROUND_ROBIN_TEAM))
                    .collect();
                if round_robin.len() >= 2 {
                    let fair: Vec<usize> = (0..agents.len())
                        .filter(|&a| agents[a].teams.contains(&ROUND_ROBIN_TEAM) && has_room(a))
                        .filter(|&a| {
                            round_robin
                                .iter()
                                .all(|&(w, _)| eligible(&agents[a], &waiting[w]))
                        })
                        .filter(|&a| {
                            served.iter().filter(|&(_, &to)| to == a).all(|(&w, _)| {
                                waiting[w].team == Some(ROUND_ROBIN_TEAM)
                                    && waiting[w].preferred_agent != Some(agents[a].id)
                            })
                        })
                        .collect();
                    if fair.len() >= 2 {
                        let counts: Vec<usize> = fair
                            .iter()
                            .map(|&a| round_robin.iter().filter(|&&(_, to)| to == a).count())
                            .collect();
                        let (min, max) = (counts.iter().min(), counts.iter().max());
                        assert!(
                            max.zip(min).is_some_and(|(max, min)| max - min <= 1),
                            "unfair: {counts:?}"
                        );
                        self.stats.fairness_checks += 1;
                    }
                }
            }

            fn apply(&mut self, result: &[Assignment]) {
                for a in result {
                    let ag = self.agents.iter().position(|x| x.id == a.agent).unwrap();
                    let w = self
                        .waiting
                        .iter()
                        .position(|x| x.conversation == a.conversation)
                        .unwrap();
                    let agent = &mut self.agents[ag];
                    agent.load += 1;
                    agent.last_assigned_at = agent.last_assigned_at.max(a.assigned_at);
                    self.active.push((self.waiting.swap_remove(w), ag));
                }
                self.stats.assigned += result.len();
            }

            /// Positions are 1..n within each team and website scope, in queue order, one per
            /// waiting conversation in input order.
            fn check_positions(&self) {
                let result = positions(&self.waiting);
                assert_eq!(result.len(), self.waiting.len());
                type Scope = (Option<i64>, Option<WebsiteId>);
                let mut scopes: BTreeMap<Scope, Vec<(u32, &Waiting)>> = BTreeMap::new();
                for (w, (conversation, position)) in self.waiting.iter().zip(&result) {
                    assert_eq!(w.conversation, *conversation);
                    scopes
                        .entry((w.team, w.website))
                        .or_default()
                        .push((*position, w));
                }
                for members in scopes.values_mut() {
                    members.sort_by_key(|(p, _)| *p);
                    for (i, (p, _)) in members.iter().enumerate() {
                        assert_eq!(*p as usize, i + 1, "positions are not 1..n");
                    }
                    for pair in members.windows(2) {
                        assert_eq!(
                            reference_order(pair[0].1, pair[1].1),
                            Ordering::Less,
                            "positions out of order"
                        );
                    }
                }
            }
        }

        /// The largest number of `candidates` that can be placed in the agents' free slots at
        /// once (Kuhn's augmenting paths), for comparison with what `assign` served.
        fn maximum_matching(
            candidates: &[usize],
            waiting: &[Waiting],
            agents: &[AgentSnapshot],
            free: &[u32],
        ) -> usize {
            fn place(
                w: usize,
                edges: &[Vec<usize>],
                free: &[u32],
                holding: &mut [Vec<usize>],
                seen: &mut [bool],
            ) -> bool {
                for &a in &edges[w] {
                    if seen[a] {
                        continue;
                    }
                    seen[a] = true;
                    if (holding[a].len() as u32) < free[a] {
                        holding[a].push(w);
                        return true;
                    }
                    for k in 0..holding[a].len() {
                        let other = holding[a][k];
                        if place(other, edges, free, holding, seen) {
                            holding[a][k] = w;
                            return true;
                        }
                    }
                }
                false
            }
            let mut edges: Vec<Vec<usize>> = vec![Vec::new(); waiting.len()];
            for &w in candidates {
                edges[w] = (0..agents.len())
                    .filter(|&a| free[a] > 0 && eligible(&agents[a], &waiting[w]))
                    .collect();
            }
            let mut holding = vec![Vec::new(); agents.len()];
            candidates
                .iter()
                .filter(|&&w| {
                    place(
                        w,
                        &edges,
                        free,
                        &mut holding,
                        &mut vec![false; agents.len()],
                    )
                })
                .count()
        }

        fn simulate(seed: u64) -> Stats {
            let mut world = World::new(seed);
            world.route();
            for _ in 0..STEPS {
                world.step();
                world.route();
            }
            world.stats
        }

        #[test]
        fn simulation_keeps_every_invariant_after_every_step_for_several_seeds() {
            let seeds = [1u64, 2, 3, 0xDEAD_BEEF];
            let all: Vec<Stats> = std::thread::scope(|scope| {
                let runs: Vec<_> = seeds
                    .iter()
                    .map(|&seed| scope.spawn(move || simulate(seed)))
                    .collect();
                runs.into_iter()
                    .map(|r| r.join().expect("a seed failed"))
                    .collect()
            });
            for (seed, stats) in seeds.iter().zip(&all) {
                eprintln!("seed {seed}: {stats:?}");
                // The checks must have had something to check.
                let exercised = [
                    ("assigned", stats.assigned, 1_000),
                    (
                        "runs with free capacity",
                        stats.runs_with_free_capacity,
                        500,
                    ),
                    ("runs with a full queue", stats.runs_with_a_full_queue, 500),
                    ("left waiting", stats.left_waiting_beside_free_capacity, 50),
                    ("fairness checks", stats.fairness_checks, 10),
                    ("manual pulls", stats.manual_pulls, 50),
                    ("transfers", stats.transfers, 20),
                ];
                for (what, count, least) in exercised {
                    assert!(count >= least, "seed {seed}: only {count} {what}");
                }
            }
        }
    }
}
