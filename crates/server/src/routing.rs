//! Queues and routing on the server: support chats enter a queue with a priority from the
//! admins' rules; assignment runs (the pure engine in `natter_core::routing`, applied by the
//! store one run at a time per workspace) whenever capacity may have changed — a chat
//! arrives, one is resolved, an agent comes online or changes capacity — and on a periodic
//! tick that also escalates long waits. Customers hear their live position and estimate.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use natter_core::model::{Account, ConversationStatus, StaffRole};
use natter_core::protocol::ServerFrame;
use natter_core::routing::{
    self, AgentSnapshot, AgentStatus, Assignment, Policy, Priority, TeamPolicy, Waiting,
};
pub use natter_core::staff_api::{AgentView, Condition, QueueItem, Rule};
use natter_core::time::now_millis;
use natter_core::website::TeamWaiting;
use natter_core::{AccountId, ConversationId, Error, WebsiteId, WorkspaceId};
use natter_store::{AgentRecord, Assigned, QueueRecord, RuleRecord, TeamRecord};

use crate::app::App;

const MAX_RULES: usize = 100;
const MAX_SKILLS: usize = 50;

fn check_skills(skills: &[String]) -> Result<(), Error> {
    if skills.len() > MAX_SKILLS {
        return Err(Error::invalid(format!("at most {MAX_SKILLS} skills")));
    }
    for s in skills {
        let ok = !s.is_empty()
            && s.len() <= 40
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !ok {
            return Err(Error::invalid(format!(
                "skill {s:?}: 1-40 of letters, digits, _ - ."
            )));
        }
    }
    Ok(())
}

fn priority(text: &str) -> Result<Priority, Error> {
    Priority::parse(text)
        .ok_or_else(|| Error::invalid("priority must be low, normal, high or urgent"))
}

fn policy(text: &str) -> Result<Policy, Error> {
    Policy::parse(text).ok_or_else(|| {
        Error::invalid("policy must be round_robin, least_loaded, skills_based or manual")
    })
}

/// One step up; urgent stays urgent.
fn raise(priority: Priority) -> Priority {
    match priority {
        Priority::Low => Priority::Normal,
        Priority::Normal => Priority::High,
        Priority::High | Priority::Urgent => Priority::Urgent,
    }
}

fn waiting(entry: &QueueRecord) -> Waiting {
    Waiting {
        conversation: entry.conversation_id,
        team: entry.team_id,
        website: entry.website_id,
        priority: Priority::parse(&entry.priority).unwrap_or(Priority::Normal),
        enqueued_at: entry.enqueued_at,
        needs: entry.needs.iter().cloned().collect(),
        preferred_agent: entry.preferred_agent,
        excluded: entry.excluded.iter().copied().collect(),
    }
}

/// Which websites each staff member serves (`None`: all of them).
type ServedWebsites = HashMap<AccountId, Option<BTreeSet<WebsiteId>>>;

/// Which websites each agent serves (`None`: all of them), from the websites' agent lists.
fn served_websites(staff: &[Account], sites: &[crate::websites::Website]) -> ServedWebsites {
    staff
        .iter()
        .map(|a| {
            let all = sites.iter().all(|s| s.served_by(a));
            let served = (!all).then(|| {
                sites
                    .iter()
                    .filter(|s| s.served_by(a))
                    .map(|s| s.record.id)
                    .collect()
            });
            (a.id, served)
        })
        .collect()
}

fn snapshot(agent: &AgentRecord, websites: &ServedWebsites) -> AgentSnapshot {
    AgentSnapshot {
        id: agent.account_id,
        status: AgentStatus::parse(&agent.status).unwrap_or(AgentStatus::Offline),
        capacity: agent.capacity,
        load: agent.load,
        skills: agent.skills.iter().cloned().collect(),
        teams: agent.teams.iter().copied().collect(),
        websites: websites.get(&agent.account_id).cloned().flatten(),
        last_assigned_at: agent.last_assigned_at,
    }
}

fn team_policies(teams: &[TeamRecord]) -> Vec<TeamPolicy> {
    teams
        .iter()
        .map(|t| TeamPolicy {
            team: t.id,
            policy: Policy::parse(&t.policy).unwrap_or(Policy::LeastLoaded),
        })
        .collect()
}

/// A stored agent as the API shows it (a function, not `From`: neither type is this crate's).
fn agent_view(a: AgentRecord) -> AgentView {
    AgentView {
        account_id: a.account_id,
        status: a.status,
        capacity: a.capacity,
        load: a.load,
        skills: a.skills,
        teams: a.teams,
    }
}

impl App {
    fn default_policy(&self) -> Policy {
        Policy::parse(&self.config.routing.default_policy).unwrap_or(Policy::LeastLoaded)
    }

    /// Puts a new support chat in the queue (priority, team and skills from the first
    /// matching rule; a returning customer's last agent preferred), then assigns.
    pub async fn enqueue_chat(
        &self,
        contact: &Account,
        conversation: ConversationId,
        website: Option<WebsiteId>,
        subject: Option<&str>,
    ) -> Result<(), Error> {
        let rules = self
            .store
            .routing_rules(contact.workspace_id)
            .await
            .map_err(Self::public_error)?;
        let profile = self
            .store
            .contact_profile(contact.id)
            .await
            .map_err(Self::public_error)?;
        let matched = rules.iter().find(|rule| {
            let Ok(condition) = serde_json::from_str::<Condition>(&rule.condition) else {
                return false;
            };
            match condition {
                Condition::Always => true,
                Condition::Website(w) => website == Some(w),
                Condition::Attribute { name, equals } => profile
                    .custom_data
                    .as_ref()
                    .and_then(|d| d.get(&name))
                    .is_some_and(|v| match v {
                        serde_json::Value::String(s) => *s == equals,
                        // Numbers and booleans compare by their JSON text (`12`, `true`).
                        other => equals
                            .parse::<serde_json::Value>()
                            .is_ok_and(|e| e == *other),
                    }),
                Condition::Keyword(word) => {
                    subject.is_some_and(|s| s.to_lowercase().contains(&word.to_lowercase()))
                }
            }
        });
        let preferred_agent = self
            .store
            .last_agent_of(contact.id)
            .await
            .map_err(Self::public_error)?;
        let entry = QueueRecord {
            conversation_id: conversation,
            website_id: website,
            team_id: matched.and_then(|r| r.team_id),
            priority: matched
                .and_then(|r| r.priority.clone())
                .unwrap_or_else(|| "normal".into()),
            enqueued_at: now_millis(),
            needs: matched.map(|r| r.needs.clone()).unwrap_or_default(),
            preferred_agent,
            excluded: Vec::new(),
            escalated_at: None,
            contact_id: Some(contact.id),
        };
        self.store
            .enqueue(contact.workspace_id, &entry)
            .await
            .map_err(Self::public_error)?;
        self.route(contact.workspace_id).await
    }

    /// One assignment run for the workspace, then the queue's new shape to customers and
    /// staff.
    pub async fn route(&self, workspace: WorkspaceId) -> Result<(), Error> {
        let (staff, websites) = self.staff_and_websites(workspace).await?;
        let default_policy = self.default_policy();
        let capacity = self.config.routing.default_capacity;
        let now = now_millis();
        let teams = self
            .store
            .teams(workspace)
            .await
            .map_err(Self::public_error)?;
        let policies = team_policies(&teams);
        let assigned = self
            .commit(
                self.store
                    .run_assignment(workspace, capacity, |queue, agents| {
                        let waiting: Vec<Waiting> = queue.iter().map(waiting).collect();
                        let agents: Vec<AgentSnapshot> =
                            agents.iter().map(|a| snapshot(a, &websites)).collect();
                        routing::assign(&waiting, &agents, &policies, default_policy, now)
                            .into_iter()
                            .map(
                                |Assignment {
                                     conversation,
                                     agent,
                                     assigned_at,
                                 }| Assigned {
                                    conversation_id: conversation,
                                    agent,
                                    assigned_at,
                                },
                            )
                            .collect()
                    }),
            )
            .await?;
        if !assigned.is_empty() {
            metrics::counter!("natter_routing_assignments_total").increment(assigned.len() as u64);
        }
        self.announce_queue(workspace, &staff, &websites).await
    }

    /// Tells each waiting customer where they stand, and staff how long the queues are.
    async fn announce_queue(
        &self,
        workspace: WorkspaceId,
        staff: &[Account],
        websites: &ServedWebsites,
    ) -> Result<(), Error> {
        let items = self.queue_items(workspace, websites).await?;
        for (item, contact) in &items {
            if let Some(contact) = *contact {
                self.send_ephemeral(
                    &[contact],
                    &ServerFrame::QueuePosition {
                        conversation_id: item.conversation_id,
                        position: item.position,
                        estimated_wait_ms: item.estimated_wait_ms,
                    },
                );
            }
        }
        let mut by_team: Vec<TeamWaiting> = Vec::new();
        for (item, _) in &items {
            match by_team.iter_mut().find(|t| t.team_id == item.team_id) {
                Some(t) => t.waiting += 1,
                None => by_team.push(TeamWaiting {
                    team_id: item.team_id,
                    waiting: 1,
                }),
            }
        }
        let recipients: Vec<AccountId> = staff.iter().map(|a| a.id).collect();
        self.send_ephemeral(&recipients, &ServerFrame::QueueLength { waiting: by_team });
        Ok(())
    }

    fn send_ephemeral(&self, recipients: &[AccountId], frame: &ServerFrame) {
        match serde_json::to_vec(frame) {
            Ok(json) => self.fanout.ephemeral(recipients, json.into()),
            Err(e) => tracing::error!(error = %e, "cannot serialise a routing frame"),
        }
    }

    /// The workspace's staff and which websites each serves (`None`: all).
    async fn staff_and_websites(
        &self,
        workspace: WorkspaceId,
    ) -> Result<(Vec<Account>, ServedWebsites), Error> {
        let staff = self
            .store
            .staff(workspace)
            .await
            .map_err(Self::public_error)?;
        let sites = self.websites_of(workspace).await?;
        let websites = served_websites(&staff, &sites);
        Ok((staff, websites))
    }

    /// The queue with positions and estimates.
    async fn queue_items(
        &self,
        workspace: WorkspaceId,
        websites: &ServedWebsites,
    ) -> Result<Vec<(QueueItem, Option<AccountId>)>, Error> {
        let queue = self
            .store
            .queue(workspace)
            .await
            .map_err(Self::public_error)?;
        let waiting: Vec<Waiting> = queue.iter().map(waiting).collect();
        let positions: HashMap<ConversationId, u32> =
            routing::positions(&waiting).into_iter().collect();
        let agents: Vec<AgentSnapshot> = self
            .store
            .agents(workspace, self.config.routing.default_capacity)
            .await
            .map_err(Self::public_error)?
            .iter()
            .map(|a| snapshot(a, websites))
            .collect();
        let handling = self
            .store
            .recent_handling_ms(workspace)
            .await
            .map_err(Self::public_error)?
            .unwrap_or_else(|| {
                i64::try_from(self.config.routing.default_handling_secs)
                    .unwrap_or(600)
                    .saturating_mul(1000)
            });
        Ok(queue
            .iter()
            .zip(&waiting)
            .map(|(entry, w)| {
                // The capacity of the online agents who could take this chat.
                let online_capacity = routing::queue_capacity(&agents, w.team, w.website);
                let position = positions.get(&entry.conversation_id).copied().unwrap_or(0);
                let item = QueueItem {
                    conversation_id: entry.conversation_id,
                    website_id: entry.website_id,
                    team_id: entry.team_id,
                    priority: entry.priority.clone(),
                    enqueued_at: entry.enqueued_at,
                    needs: entry.needs.clone(),
                    position,
                    estimated_wait_ms: routing::estimate_wait_ms(
                        position,
                        handling,
                        online_capacity,
                    ),
                    escalated_at: entry.escalated_at,
                };
                (item, entry.contact_id)
            })
            .collect())
    }

    /// The queue view for staff.
    pub async fn queue_view(&self, actor: &Account) -> Result<Vec<QueueItem>, Error> {
        crate::app::check_staff(actor)?;
        let (_, websites) = self.staff_and_websites(actor.workspace_id).await?;
        let mut items: Vec<QueueItem> = self
            .queue_items(actor.workspace_id, &websites)
            .await?
            .into_iter()
            .map(|(item, _)| item)
            .collect();
        // Agents see the chats of the websites they serve.
        if let Some(Some(served)) = websites.get(&actor.id) {
            items.retain(|i| i.website_id.is_none_or(|w| served.contains(&w)));
        }
        Ok(items)
    }

    /// An agent sets their status (and, optionally, capacity and skills); admins may set
    /// anyone's. Coming online or raising capacity backfills at once.
    pub async fn set_agent_state(
        &self,
        actor: &Account,
        agent: AccountId,
        status: Option<&str>,
        capacity: Option<u32>,
        skills: Option<Vec<String>>,
    ) -> Result<AgentView, Error> {
        crate::app::check_staff(actor)?;
        if agent != actor.id {
            crate::app::check_admin(actor)?;
        }
        if let Some(status) = status
            && AgentStatus::parse(status).is_none()
        {
            return Err(Error::invalid(
                "status must be online, away, busy or offline",
            ));
        }
        if capacity.is_some_and(|c| c > 100) {
            return Err(Error::invalid("capacity must be 0 to 100"));
        }
        if let Some(skills) = &skills {
            check_skills(skills)?;
        }
        let record = self
            .store
            .set_agent_state(
                actor.workspace_id,
                agent,
                status,
                capacity,
                skills.as_deref(),
                self.config.routing.default_capacity,
            )
            .await
            .map_err(Self::public_error)?;
        self.route(actor.workspace_id).await?;
        Ok(agent_view(record))
    }

    pub async fn agents_view(&self, actor: &Account) -> Result<Vec<AgentView>, Error> {
        crate::app::check_staff(actor)?;
        Ok(self
            .store
            .agents(actor.workspace_id, self.config.routing.default_capacity)
            .await
            .map_err(Self::public_error)?
            .into_iter()
            .map(agent_view)
            .collect())
    }

    pub async fn teams_view(&self, actor: &Account) -> Result<Vec<TeamRecord>, Error> {
        crate::app::check_staff(actor)?;
        self.store
            .teams(actor.workspace_id)
            .await
            .map_err(Self::public_error)
    }

    pub async fn create_team(
        &self,
        actor: &Account,
        name: &str,
        team_policy: &str,
        members: &[AccountId],
    ) -> Result<TeamRecord, Error> {
        crate::app::check_admin(actor)?;
        if name.trim().is_empty() || name.len() > 100 {
            return Err(Error::invalid("name must be 1 to 100 bytes"));
        }
        policy(team_policy)?;
        if members.len() > 1000 {
            return Err(Error::invalid("at most 1000 members"));
        }
        let team = self
            .store
            .create_team(actor.workspace_id, name, team_policy, members)
            .await
            .map_err(Self::public_error)?;
        self.route(actor.workspace_id).await?;
        Ok(team)
    }

    pub async fn update_team(
        &self,
        actor: &Account,
        id: i64,
        name: Option<&str>,
        team_policy: Option<&str>,
        members: Option<&[AccountId]>,
    ) -> Result<TeamRecord, Error> {
        crate::app::check_admin(actor)?;
        if name.is_some_and(|n| n.trim().is_empty() || n.len() > 100) {
            return Err(Error::invalid("name must be 1 to 100 bytes"));
        }
        if let Some(p) = team_policy {
            policy(p)?;
        }
        if members.is_some_and(|m| m.len() > 1000) {
            return Err(Error::invalid("at most 1000 members"));
        }
        let team = self
            .store
            .update_team(actor.workspace_id, id, name, team_policy, members)
            .await
            .map_err(Self::public_error)?;
        self.route(actor.workspace_id).await?;
        Ok(team)
    }

    pub async fn routing_rules(&self, actor: &Account) -> Result<Vec<Rule>, Error> {
        crate::app::check_staff(actor)?;
        let rules = self
            .store
            .routing_rules(actor.workspace_id)
            .await
            .map_err(Self::public_error)?;
        rules
            .into_iter()
            .map(|r| {
                Ok(Rule {
                    when: serde_json::from_str(&r.condition).map_err(|_| Error::internal())?,
                    priority: r.priority,
                    team_id: r.team_id,
                    needs: r.needs,
                })
            })
            .collect()
    }

    pub async fn set_routing_rules(
        &self,
        actor: &Account,
        rules: Vec<Rule>,
    ) -> Result<Vec<Rule>, Error> {
        crate::app::check_admin(actor)?;
        if rules.len() > MAX_RULES {
            return Err(Error::invalid(format!("at most {MAX_RULES} rules")));
        }
        let mut records = Vec::with_capacity(rules.len());
        for rule in &rules {
            if let Some(p) = &rule.priority {
                priority(p)?;
            }
            check_skills(&rule.needs)?;
            match &rule.when {
                Condition::Attribute { name, equals }
                    if name.is_empty() || name.len() > 64 || equals.len() > 200 =>
                {
                    return Err(Error::invalid(
                        "attribute name is 1-64 bytes and equals at most 200",
                    ));
                }
                Condition::Keyword(word) if word.trim().is_empty() || word.len() > 100 => {
                    return Err(Error::invalid("keyword is 1-100 bytes"));
                }
                _ => {}
            }
            records.push(RuleRecord {
                condition: serde_json::to_string(&rule.when).map_err(|_| Error::internal())?,
                priority: rule.priority.clone(),
                team_id: rule.team_id,
                needs: rule.needs.clone(),
            });
        }
        self.store
            .set_routing_rules(actor.workspace_id, &records)
            .await
            .map_err(Self::public_error)?;
        self.audit(
            actor,
            "routing.rules_updated",
            None,
            serde_json::json!({"rules": rules.len()}),
        )
        .await;
        Ok(rules)
    }

    /// An agent takes a waiting chat by hand (manual teams, or ahead of the queue), within
    /// their capacity.
    pub async fn take_chat(
        &self,
        actor: &Account,
        conversation: ConversationId,
    ) -> Result<(), Error> {
        crate::app::check_staff(actor)?;
        let (chat, _) = self.conversation(actor, conversation).await?;
        let capacity = self.config.routing.default_capacity;
        let me = actor.id;
        let (_, websites) = self.staff_and_websites(actor.workspace_id).await?;
        let teams = self
            .store
            .teams(actor.workspace_id)
            .await
            .map_err(Self::public_error)?;
        let policies = team_policies(&teams);
        let default_policy = self.default_policy();
        let taken = self
            .commit(
                self.store
                    .run_assignment(actor.workspace_id, capacity, |queue, agents| {
                        // A pull follows assignment's eligibility (team, website, needed
                        // skills, capacity), except that the taker need not be online.
                        let mine = agents.iter().find(|a| a.account_id == me).map(|a| {
                            let mut s = snapshot(a, &websites);
                            s.status = AgentStatus::Online;
                            s
                        });
                        let entry = queue
                            .iter()
                            .find(|q| q.conversation_id == chat.id)
                            .map(waiting);
                        let allowed = match (&mine, &entry) {
                            (Some(agent), Some(w)) => {
                                let policy = routing::policy_for(w.team, &policies, default_policy);
                                // Manual teams are pulled by their members, needs included.
                                let policy = if policy == Policy::Manual {
                                    Policy::SkillsBased
                                } else {
                                    policy
                                };
                                routing::can_take(agent, w, policy)
                            }
                            _ => false,
                        };
                        if allowed {
                            vec![Assigned {
                                conversation_id: chat.id,
                                agent: me,
                                assigned_at: now_millis(),
                            }]
                        } else {
                            Vec::new()
                        }
                    }),
            )
            .await?;
        if taken.is_empty() {
            return Err(Error::new(
                natter_core::ErrorCode::Conflict,
                "the chat is not waiting, or you are at capacity",
            ));
        }
        self.route(actor.workspace_id).await
    }

    /// A chat left the queue's concern (resolved or archived): its assignments end (freeing
    /// capacity) and the queue backfills.
    pub async fn chat_closed(
        &self,
        workspace: WorkspaceId,
        conversation: ConversationId,
    ) -> Result<(), Error> {
        self.store
            .dequeue(conversation)
            .await
            .map_err(Self::public_error)?;
        self.store
            .end_assignments(conversation)
            .await
            .map_err(Self::public_error)?;
        self.route(workspace).await
    }

    /// Escalates chats that waited too long, then assigns; run by every node's ticker.
    pub async fn routing_tick(&self) -> Result<(), Error> {
        let workspaces = self
            .store
            .workspace_ids()
            .await
            .map_err(Self::public_error)?;
        let after_ms = i64::try_from(self.config.routing.escalate_after_secs)
            .unwrap_or(i64::MAX)
            .saturating_mul(1000);
        let now = now_millis();
        for workspace in workspaces {
            self.check_sla(workspace, now).await?;
            let queue = self
                .store
                .queue(workspace)
                .await
                .map_err(Self::public_error)?;
            if queue.is_empty() {
                continue;
            }
            if after_ms > 0 {
                for entry in &queue {
                    let waited = now.saturating_sub(entry.enqueued_at);
                    if entry.escalated_at.is_some() || waited < after_ms {
                        continue;
                    }
                    let raised =
                        raise(Priority::parse(&entry.priority).unwrap_or(Priority::Normal));
                    if self
                        .store
                        .escalate(workspace, entry.conversation_id, raised.as_str())
                        .await
                        .map_err(Self::public_error)?
                    {
                        let supervisors: Vec<AccountId> = self
                            .store
                            .staff(workspace)
                            .await
                            .map_err(Self::public_error)?
                            .iter()
                            .filter(|a| matches!(a.role, Some(StaffRole::Owner | StaffRole::Admin)))
                            .map(|a| a.id)
                            .collect();
                        self.send_ephemeral(
                            &supervisors,
                            &ServerFrame::Escalated {
                                conversation_id: entry.conversation_id,
                                priority: raised.as_str().to_string(),
                                waiting_ms: waited,
                            },
                        );
                    }
                }
            }
            self.route(workspace).await?;
        }
        Ok(())
    }

    /// Runs [`routing_tick`](Self::routing_tick) every `routing.tick_secs` until shutdown.
    pub fn start_routing(self: &Arc<Self>) {
        let app = Arc::clone(self);
        let every = Duration::from_secs(self.config.routing.tick_secs);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = app.shutdown.cancelled() => break,
                    _ = tick.tick() => {}
                }
                if let Err(e) = app.expire_transfers().await {
                    tracing::warn!(error = %e.message, "expiring transfers failed");
                }
                if let Err(e) = app.routing_tick().await {
                    tracing::warn!(error = %e.message, "routing tick failed");
                }
            }
        });
    }

    /// Called after a conversation's status changes.
    pub async fn status_changed(
        &self,
        workspace: WorkspaceId,
        conversation: ConversationId,
        status: ConversationStatus,
    ) -> Result<(), Error> {
        match status {
            ConversationStatus::Resolved | ConversationStatus::Archived => {
                self.chat_closed(workspace, conversation).await
            }
            _ => Ok(()),
        }
    }
}

impl App {
    /// Transfers a chat the actor may read: to a named agent (who must accept within
    /// `routing.transfer_accept_secs`, else it returns to the queue without them) or to a
    /// team (back in the queue, in that team). A note goes in as an internal note.
    pub async fn transfer(
        &self,
        actor: &Account,
        conversation: ConversationId,
        to_agent: Option<AccountId>,
        to_team: Option<i64>,
        note: Option<String>,
    ) -> Result<(), Error> {
        crate::app::check_staff(actor)?;
        let (chat, _) = self.conversation(actor, conversation).await?;
        if chat.kind != natter_core::model::ConversationKind::Support {
            return Err(Error::invalid("only support chats are transferred"));
        }
        if to_agent.is_some() == to_team.is_some() {
            return Err(Error::invalid("give to_agent or to_team"));
        }
        // The agents handling the chat pass it on; owners and admins may move any chat.
        let handlers = self.staff_in(chat.id).await?;
        let supervisor = matches!(actor.role, Some(StaffRole::Owner | StaffRole::Admin));
        if !supervisor && !handlers.contains(&actor.id) {
            return Err(Error::forbidden(
                "only the chat's agents (or owners and admins) transfer it",
            ));
        }
        if let Some(team) = to_team {
            // Checked before anything changes: a bad team must not strand the chat.
            self.store
                .team(actor.workspace_id, team)
                .await
                .map_err(Self::public_error)?;
        }
        if let Some(agent) = to_agent {
            let target = self
                .store
                .account_in(actor.workspace_id, agent)
                .await
                .map_err(Self::public_error)?;
            if !target.is_staff() || target.id == actor.id {
                return Err(Error::invalid("to_agent must be another staff member"));
            }
            self.check_serves(&target, chat.website_id)
                .await
                .map_err(|_| Error::invalid("that agent does not serve this chat's website"))?;
        }
        if let Some(note) = &note {
            self.post_message(
                actor,
                crate::app::PostMessage {
                    conversation_id: chat.id,
                    client_msg_id: None,
                    kind: Some(natter_core::model::MessageKind::Note),
                    format: None,
                    body: format!("Transfer: {note}"),
                },
            )
            .await?;
        }
        match (to_agent, to_team) {
            (Some(agent), _) => {
                let secs = i64::try_from(self.config.routing.transfer_accept_secs).unwrap_or(60);
                let expires_at = now_millis().saturating_add(secs.saturating_mul(1000));
                self.store
                    .offer_transfer(actor.workspace_id, chat.id, actor.id, agent, expires_at)
                    .await
                    .map_err(Self::public_error)?;
                self.send_ephemeral(
                    &[agent],
                    &ServerFrame::TransferOffered {
                        conversation_id: chat.id,
                        from_agent: actor.id,
                        note,
                        expires_at,
                    },
                );
                Ok(())
            }
            (None, team) => self.requeue(actor.workspace_id, chat.id, team, None).await,
        }
    }

    /// The receiving agent accepts a transfer: they join, the sender leaves, the load moves.
    pub async fn accept_transfer(
        &self,
        actor: &Account,
        conversation: ConversationId,
    ) -> Result<(), Error> {
        crate::app::check_staff(actor)?;
        let pending = self
            .store
            .transfer_offer(conversation)
            .await
            .map_err(Self::public_error)?;
        match pending {
            Some(o) if o.to_agent == actor.id && o.workspace_id == actor.workspace_id => {}
            _ => return Err(Error::not_found("transfer")),
        }
        // Exactly one of accept and expiry takes the offer.
        let Some(offer) = self
            .store
            .take_transfer_offer(conversation)
            .await
            .map_err(Self::public_error)?
        else {
            return Err(Error::not_found("transfer"));
        };
        if offer.expires_at <= now_millis() {
            self.requeue(actor.workspace_id, conversation, None, Some(actor.id))
                .await?;
            return Err(Error::new(
                natter_core::ErrorCode::Conflict,
                "the transfer expired; the chat went back to the queue",
            ));
        }
        self.commit(self.store.add_participant(
            actor.workspace_id,
            conversation,
            &natter_store::NewParticipant {
                account_id: actor.id,
                role: natter_core::model::ParticipantRole::Agent,
                visibility: natter_core::model::Visibility::Full,
            },
            self.config.limits.participants_per_conversation,
        ))
        .await?;
        self.store
            .reassign(actor.workspace_id, conversation, actor.id)
            .await
            .map_err(Self::public_error)?;
        for leaving in self.staff_in(conversation).await? {
            if leaving != actor.id {
                self.commit(self.store.remove_participant(
                    actor.workspace_id,
                    conversation,
                    leaving,
                ))
                .await?;
            }
        }
        self.route(actor.workspace_id).await
    }

    /// The staff taking part in a conversation now.
    async fn staff_in(&self, conversation: ConversationId) -> Result<Vec<AccountId>, Error> {
        Ok(self
            .store
            .participant_names(conversation)
            .await
            .map_err(Self::public_error)?
            .into_iter()
            .filter(|p| p.staff)
            .map(|p| p.account_id)
            .collect())
    }

    /// The receiving agent declines: the chat goes back to the queue without them.
    pub async fn decline_transfer(
        &self,
        actor: &Account,
        conversation: ConversationId,
    ) -> Result<(), Error> {
        crate::app::check_staff(actor)?;
        let pending = self
            .store
            .transfer_offer(conversation)
            .await
            .map_err(Self::public_error)?;
        match pending {
            Some(o) if o.to_agent == actor.id && o.workspace_id == actor.workspace_id => {}
            _ => return Err(Error::not_found("transfer")),
        }
        // Only whoever takes the offer out requeues (an expiry may race this decline).
        if self
            .store
            .take_transfer_offer(conversation)
            .await
            .map_err(Self::public_error)?
            .is_some()
        {
            self.requeue(actor.workspace_id, conversation, None, Some(actor.id))
                .await?;
        }
        Ok(())
    }

    /// Puts an assigned chat back in the queue: its agents leave and their assignments
    /// end; `exclude` (a declining agent) will not get it.
    async fn requeue(
        &self,
        workspace: WorkspaceId,
        conversation: ConversationId,
        team: Option<i64>,
        exclude: Option<AccountId>,
    ) -> Result<(), Error> {
        self.store
            .end_assignments(conversation)
            .await
            .map_err(Self::public_error)?;
        for leaving in self.staff_in(conversation).await? {
            self.commit(
                self.store
                    .remove_participant(workspace, conversation, leaving),
            )
            .await?;
        }
        let chat = self
            .store
            .conversation(workspace, conversation, AccountId(0))
            .await
            .map_err(Self::public_error)?
            .0;
        let contact = self
            .store
            .participants(conversation)
            .await
            .map_err(Self::public_error)?
            .into_iter()
            .find(|p| p.role == natter_core::model::ParticipantRole::Customer)
            .map(|p| p.account_id);
        let entry = QueueRecord {
            conversation_id: conversation,
            website_id: chat.website_id,
            team_id: team,
            priority: "normal".into(),
            enqueued_at: now_millis(),
            needs: Vec::new(),
            preferred_agent: None,
            excluded: exclude.into_iter().collect(),
            escalated_at: None,
            contact_id: contact,
        };
        self.store
            .enqueue(workspace, &entry)
            .await
            .map_err(Self::public_error)?;
        self.route(workspace).await
    }

    /// Sends expired transfers back to the queue (the ticker calls it).
    pub async fn expire_transfers(&self) -> Result<(), Error> {
        let expired = self
            .store
            .expired_transfer_offers(now_millis())
            .await
            .map_err(Self::public_error)?;
        for offer in expired {
            if self
                .store
                .take_transfer_offer(offer.conversation_id)
                .await
                .map_err(Self::public_error)?
                .is_some()
            {
                self.requeue(
                    offer.workspace_id,
                    offer.conversation_id,
                    None,
                    Some(offer.to_agent),
                )
                .await?;
            }
        }
        Ok(())
    }
}

impl App {
    /// A staff member answered a chat that was waiting: it is theirs now (out of the queue,
    /// recorded as their assignment), and the queue moves up.
    pub async fn claim_by_reply(
        &self,
        actor: &Account,
        conversation: ConversationId,
    ) -> Result<(), Error> {
        let queued = self
            .store
            .is_queued(conversation)
            .await
            .map_err(Self::public_error)?;
        if !queued {
            return Ok(());
        }
        if self
            .store
            .dequeue(conversation)
            .await
            .map_err(Self::public_error)?
        {
            self.store
                .reassign(actor.workspace_id, conversation, actor.id)
                .await
                .map_err(Self::public_error)?;
            self.route(actor.workspace_id).await?;
        }
        Ok(())
    }
}

impl App {
    /// Reports chats past the first-response SLA to the workspace's owners and admins.
    async fn check_sla(&self, workspace: WorkspaceId, now: i64) -> Result<(), Error> {
        let sla_ms = i64::try_from(self.config.routing.first_response_sla_secs)
            .unwrap_or(i64::MAX)
            .saturating_mul(1000);
        if sla_ms == 0 {
            return Ok(());
        }
        let breaches = self
            .store
            .record_sla_breaches(workspace, now.saturating_sub(sla_ms))
            .await
            .map_err(Self::public_error)?;
        if breaches.is_empty() {
            return Ok(());
        }
        let supervisors: Vec<AccountId> = self
            .store
            .staff(workspace)
            .await
            .map_err(Self::public_error)?
            .iter()
            .filter(|a| matches!(a.role, Some(StaffRole::Owner | StaffRole::Admin)))
            .map(|a| a.id)
            .collect();
        for (conversation_id, first_message_at) in breaches {
            metrics::counter!("natter_routing_sla_breaches_total").increment(1);
            self.send_ephemeral(
                &supervisors,
                &ServerFrame::SlaBreached {
                    conversation_id,
                    first_message_at,
                    sla_ms,
                },
            );
        }
        Ok(())
    }
}
