//! Queues and routing: teams, agents' availability, the queue of waiting support chats,
//! routing rules, and assignment runs. Which chat goes to whom is decided by the caller (the
//! pure engine in `natter_core::routing`); this module makes each run atomic and one at a
//! time per workspace.

use natter_core::ids::{AccountId, ConversationId, WebsiteId, WorkspaceId};
use natter_core::model::{ParticipantRole, Visibility};
use natter_core::protocol::EventPayload;
use natter_core::time::now_millis;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::conversations::{NewParticipant, conversation_in_tx, join_in_tx};
use crate::error::not_found;
use crate::events::{self, Draft};
use crate::{Backend, Committed, Store, StoreError};

/// A team as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamRecord {
    pub id: i64,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub policy: String,
    pub members: Vec<AccountId>,
}

/// An agent's availability and current load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRecord {
    pub account_id: AccountId,
    pub status: String,
    pub capacity: u32,
    pub skills: Vec<String>,
    pub last_assigned_at: i64,
    /// Open chats assigned to the agent.
    pub load: u32,
    pub teams: Vec<i64>,
}

/// A waiting conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRecord {
    pub conversation_id: ConversationId,
    pub website_id: Option<WebsiteId>,
    pub team_id: Option<i64>,
    pub priority: String,
    pub enqueued_at: i64,
    pub needs: Vec<String>,
    pub preferred_agent: Option<AccountId>,
    pub excluded: Vec<AccountId>,
    pub escalated_at: Option<i64>,
    /// The customer waiting (for queue-position frames).
    pub contact_id: Option<AccountId>,
}

/// An admin's routing rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRecord {
    pub condition: String,
    pub priority: Option<String>,
    pub team_id: Option<i64>,
    pub needs: Vec<String>,
}

/// A conversation handed to an agent by a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assigned {
    pub conversation_id: ConversationId,
    pub agent: AccountId,
    /// Becomes the agent's `last_assigned_at` (round-robin order across runs).
    pub assigned_at: i64,
}

fn json_list(text: &str, column: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

fn id_list(text: &str, column: &str) -> Result<Vec<AccountId>, StoreError> {
    let ids: Vec<i64> =
        serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))?;
    Ok(ids.into_iter().map(AccountId).collect())
}

fn to_json(value: impl Into<serde_json::Value>) -> Result<String, StoreError> {
    serde_json::to_string(&value.into()).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn queue_record(row: &AnyRow) -> Result<QueueRecord, StoreError> {
    Ok(QueueRecord {
        conversation_id: ConversationId(row.try_get("conversation_id")?),
        website_id: row.try_get::<Option<i64>, _>("website_id")?.map(WebsiteId),
        team_id: row.try_get("team_id")?,
        priority: row.try_get("priority")?,
        enqueued_at: row.try_get("enqueued_at")?,
        needs: json_list(&row.try_get::<String, _>("needs")?, "needs")?,
        preferred_agent: row
            .try_get::<Option<i64>, _>("preferred_agent")?
            .map(AccountId),
        excluded: id_list(&row.try_get::<String, _>("excluded")?, "excluded")?,
        escalated_at: row.try_get("escalated_at")?,
        contact_id: row.try_get::<Option<i64>, _>("contact_id")?.map(AccountId),
    })
}

const QUEUE_SELECT: &str = "select q.conversation_id, q.website_id, q.team_id, q.priority, \
     q.enqueued_at, q.needs, q.preferred_agent, q.excluded, q.escalated_at, \
     (select p.account_id from participant p where p.conversation_id = q.conversation_id \
        and p.role = 'customer' and p.left_at is null order by p.joined_at limit 1) as contact_id \
     from queue_entry q where q.workspace_id = $1 order by q.enqueued_at, q.conversation_id";

const AGENTS_SELECT: &str = "select a.account_id, coalesce(s.status, 'offline') as status, \
     coalesce(s.capacity, $2) as capacity, coalesce(s.skills, '[]') as skills, \
     coalesce(s.last_assigned_at, 0) as last_assigned_at, \
     (select count(*) from assignment x where x.account_id = a.account_id \
        and x.ended_at is null) as load \
     from account a left join agent_state s on s.account_id = a.account_id \
     where a.workspace_id = $1 and a.kind = 'staff' and a.deactivated_at is null \
     order by a.account_id";

impl Store {
    // ----- teams ----------------------------------------------------------------------

    pub async fn create_team(
        &self,
        workspace: WorkspaceId,
        name: &str,
        policy: &str,
        members: &[AccountId],
    ) -> Result<TeamRecord, StoreError> {
        let now = now_millis();
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "insert into team (workspace_id, name, policy, created_at, updated_at)
             values ($1, $2, $3, $4, $4) returning team_id",
        )
        .bind(workspace.0)
        .bind(name)
        .bind(policy)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        set_members(&mut tx, workspace, id, members).await?;
        tx.commit().await?;
        self.team(workspace, id).await
    }

    pub async fn update_team(
        &self,
        workspace: WorkspaceId,
        id: i64,
        name: Option<&str>,
        policy: Option<&str>,
        members: Option<&[AccountId]>,
    ) -> Result<TeamRecord, StoreError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "update team set name = coalesce($1, name), policy = coalesce($2, policy),
                 updated_at = $3
             where team_id = $4 and workspace_id = $5",
        )
        .bind(name)
        .bind(policy)
        .bind(now_millis())
        .bind(id)
        .bind(workspace.0)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(not_found("team"));
        }
        if let Some(members) = members {
            set_members(&mut tx, workspace, id, members).await?;
        }
        tx.commit().await?;
        self.team(workspace, id).await
    }

    pub async fn team(&self, workspace: WorkspaceId, id: i64) -> Result<TeamRecord, StoreError> {
        self.teams(workspace)
            .await?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or_else(|| not_found("team"))
    }

    pub async fn teams(&self, workspace: WorkspaceId) -> Result<Vec<TeamRecord>, StoreError> {
        let rows = sqlx::query(
            "select team_id, workspace_id, name, policy from team
             where workspace_id = $1 order by team_id",
        )
        .bind(workspace.0)
        .fetch_all(&self.read)
        .await?;
        let members: Vec<(i64, i64)> = sqlx::query_as(
            "select m.team_id, m.account_id from team_member m
             join team t on t.team_id = m.team_id
             where t.workspace_id = $1 order by m.team_id, m.account_id",
        )
        .bind(workspace.0)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|row| {
                let id: i64 = row.try_get("team_id")?;
                Ok(TeamRecord {
                    id,
                    workspace_id: WorkspaceId(row.try_get("workspace_id")?),
                    name: row.try_get("name")?,
                    policy: row.try_get("policy")?,
                    members: members
                        .iter()
                        .filter(|(t, _)| *t == id)
                        .map(|(_, a)| AccountId(*a))
                        .collect(),
                })
            })
            .collect()
    }

    // ----- agents ---------------------------------------------------------------------

    /// Sets what is given of an agent's availability (a staff account of `workspace`).
    pub async fn set_agent_state(
        &self,
        workspace: WorkspaceId,
        account: AccountId,
        status: Option<&str>,
        capacity: Option<u32>,
        skills: Option<&[String]>,
        default_capacity: u32,
    ) -> Result<AgentRecord, StoreError> {
        let staff: Option<i64> = sqlx::query_scalar(
            "select account_id from account
             where account_id = $1 and workspace_id = $2 and kind = 'staff'
               and deactivated_at is null",
        )
        .bind(account.0)
        .bind(workspace.0)
        .fetch_optional(&self.read)
        .await?;
        if staff.is_none() {
            return Err(not_found("account"));
        }
        let skills = skills.map(|s| to_json(s.to_vec())).transpose()?;
        sqlx::query(
            "insert into agent_state (account_id, status, capacity, skills, updated_at)
             values ($1, coalesce($2, 'offline'), coalesce($3, $4), coalesce($5, '[]'), $6)
             on conflict (account_id) do update set
                 status = coalesce($2, agent_state.status),
                 capacity = coalesce($3, agent_state.capacity),
                 skills = coalesce($5, agent_state.skills),
                 updated_at = $6",
        )
        .bind(account.0)
        .bind(status)
        .bind(capacity.map(i64::from))
        .bind(i64::from(default_capacity))
        .bind(skills)
        .bind(now_millis())
        .execute(&self.write)
        .await?;
        self.agents(workspace, default_capacity)
            .await?
            .into_iter()
            .find(|a| a.account_id == account)
            .ok_or_else(|| not_found("account"))
    }

    /// Every active staff member with availability, load and teams.
    pub async fn agents(
        &self,
        workspace: WorkspaceId,
        default_capacity: u32,
    ) -> Result<Vec<AgentRecord>, StoreError> {
        let rows = sqlx::query(AGENTS_SELECT)
            .bind(workspace.0)
            .bind(i64::from(default_capacity))
            .fetch_all(&self.read)
            .await?;
        let teams = self.teams(workspace).await?;
        agent_records(&rows, &teams)
    }

    // ----- rules ----------------------------------------------------------------------

    pub async fn routing_rules(
        &self,
        workspace: WorkspaceId,
    ) -> Result<Vec<RuleRecord>, StoreError> {
        let rows = sqlx::query(
            "select condition, priority, team_id, needs from routing_rule
             where workspace_id = $1 order by position",
        )
        .bind(workspace.0)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(RuleRecord {
                    condition: row.try_get("condition")?,
                    priority: row.try_get("priority")?,
                    team_id: row.try_get("team_id")?,
                    needs: json_list(&row.try_get::<String, _>("needs")?, "needs")?,
                })
            })
            .collect()
    }

    /// Replaces the workspace's rules (in order).
    pub async fn set_routing_rules(
        &self,
        workspace: WorkspaceId,
        rules: &[RuleRecord],
    ) -> Result<(), StoreError> {
        let now = now_millis();
        let mut tx = self.begin().await?;
        sqlx::query("delete from routing_rule where workspace_id = $1")
            .bind(workspace.0)
            .execute(&mut *tx)
            .await?;
        for (position, rule) in rules.iter().enumerate() {
            if let Some(team) = rule.team_id {
                check_team(&mut tx, workspace, team).await?;
            }
            sqlx::query(
                "insert into routing_rule
                     (workspace_id, position, condition, priority, team_id, needs, created_at)
                 values ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(workspace.0)
            .bind(i64::try_from(position).unwrap_or(i64::MAX))
            .bind(rule.condition.as_str())
            .bind(rule.priority.as_deref())
            .bind(rule.team_id)
            .bind(to_json(rule.needs.clone())?)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    // ----- the queue ------------------------------------------------------------------

    /// Puts a support conversation in the queue (once; a second call changes nothing).
    pub async fn enqueue(
        &self,
        workspace: WorkspaceId,
        entry: &QueueRecord,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        conversation_in_tx(&mut tx, workspace, entry.conversation_id).await?;
        if let Some(team) = entry.team_id {
            check_team(&mut tx, workspace, team).await?;
        }
        sqlx::query(
            "insert into queue_entry
                 (conversation_id, workspace_id, website_id, team_id, priority, enqueued_at,
                  needs, preferred_agent, excluded)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             on conflict (conversation_id) do nothing",
        )
        .bind(entry.conversation_id.0)
        .bind(workspace.0)
        .bind(entry.website_id.map(|w| w.0))
        .bind(entry.team_id)
        .bind(entry.priority.as_str())
        .bind(entry.enqueued_at)
        .bind(to_json(entry.needs.clone())?)
        .bind(entry.preferred_agent.map(|a| a.0))
        .bind(to_json(
            entry.excluded.iter().map(|a| a.0).collect::<Vec<_>>(),
        )?)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The workspace's waiting conversations, oldest first.
    pub async fn queue(&self, workspace: WorkspaceId) -> Result<Vec<QueueRecord>, StoreError> {
        let rows = sqlx::query(QUEUE_SELECT)
            .bind(workspace.0)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(queue_record).collect()
    }

    /// Raises a waiting conversation's priority (escalation); true if it was waiting.
    pub async fn escalate(
        &self,
        workspace: WorkspaceId,
        conversation: ConversationId,
        priority: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "update queue_entry set priority = $1, escalated_at = $2
             where conversation_id = $3 and workspace_id = $4 and escalated_at is null",
        )
        .bind(priority)
        .bind(now_millis())
        .bind(conversation.0)
        .bind(workspace.0)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Takes a conversation out of the queue (resolved while waiting, or answered by hand);
    /// true if it was waiting.
    pub async fn dequeue(&self, conversation: ConversationId) -> Result<bool, StoreError> {
        let done = sqlx::query("delete from queue_entry where conversation_id = $1")
            .bind(conversation.0)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Whether a conversation waits in the queue (a cheap read before any write).
    pub async fn is_queued(&self, conversation: ConversationId) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar(
            "select conversation_id from queue_entry where conversation_id = $1",
        )
        .bind(conversation.0)
        .fetch_optional(&self.read)
        .await?;
        Ok(found.is_some())
    }

    /// Ends the open assignments of a conversation (resolved, archived, or the agent left):
    /// the agents' load drops.
    pub async fn end_assignments(&self, conversation: ConversationId) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "update assignment set ended_at = $1 where conversation_id = $2 and ended_at is null",
        )
        .bind(now_millis())
        .bind(conversation.0)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected())
    }

    /// Mean duration of the workspace's last 50 ended assignments (ms), if any.
    pub async fn recent_handling_ms(
        &self,
        workspace: WorkspaceId,
    ) -> Result<Option<i64>, StoreError> {
        let durations: Vec<i64> = sqlx::query_scalar(
            "select ended_at - assigned_at from assignment
             where workspace_id = $1 and ended_at is not null
             order by ended_at desc limit 50",
        )
        .bind(workspace.0)
        .fetch_all(&self.read)
        .await?;
        if durations.is_empty() {
            return Ok(None);
        }
        let total: i64 = durations.iter().sum();
        Ok(Some(total / i64::try_from(durations.len()).unwrap_or(1)))
    }

    /// The agent who last handled a chat of this contact.
    pub async fn last_agent_of(&self, contact: AccountId) -> Result<Option<AccountId>, StoreError> {
        let agent: Option<i64> = sqlx::query_scalar(
            "select account_id from assignment where contact_id = $1
             order by assigned_at desc limit 1",
        )
        .bind(contact.0)
        .fetch_optional(&self.read)
        .await?;
        Ok(agent.map(AccountId))
    }

    /// One assignment run for a workspace: reads the queue and the agents, lets `decide`
    /// choose, and applies its choice (agent joins as a participant, the queue entry goes,
    /// the assignment is recorded) in one transaction. Runs of one workspace take turns —
    /// a row lock on PostgreSQL (across nodes), the single writer on SQLite — so decisions
    /// are always made on current loads: no chat is assigned twice, no agent goes over
    /// capacity.
    pub async fn run_assignment(
        &self,
        workspace: WorkspaceId,
        default_capacity: u32,
        decide: impl FnOnce(&[QueueRecord], &[AgentRecord]) -> Vec<Assigned>,
    ) -> Result<Committed<Vec<Assigned>>, StoreError> {
        let now = now_millis();
        let mut tx = self.begin().await?;
        sqlx::query("insert into routing_lock (workspace_id) values ($1) on conflict do nothing")
            .bind(workspace.0)
            .execute(&mut *tx)
            .await?;
        if self.backend() == Backend::Postgres {
            sqlx::query("select workspace_id from routing_lock where workspace_id = $1 for update")
                .bind(workspace.0)
                .fetch_one(&mut *tx)
                .await?;
        }
        let queue = sqlx::query(QUEUE_SELECT)
            .bind(workspace.0)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(queue_record)
            .collect::<Result<Vec<_>, _>>()?;
        if queue.is_empty() {
            tx.commit().await?;
            return Ok(Committed {
                value: Vec::new(),
                events: Vec::new(),
            });
        }
        let agent_rows = sqlx::query(AGENTS_SELECT)
            .bind(workspace.0)
            .bind(i64::from(default_capacity))
            .fetch_all(&mut *tx)
            .await?;
        let team_rows = sqlx::query(
            "select t.team_id, t.workspace_id, t.name, t.policy, m.account_id from team t
             left join team_member m on m.team_id = t.team_id
             where t.workspace_id = $1",
        )
        .bind(workspace.0)
        .fetch_all(&mut *tx)
        .await?;
        let mut teams: Vec<TeamRecord> = Vec::new();
        for row in &team_rows {
            let id: i64 = row.try_get("team_id")?;
            let member: Option<i64> = row.try_get("account_id")?;
            match teams.iter_mut().find(|t| t.id == id) {
                Some(team) => team.members.extend(member.map(AccountId)),
                None => teams.push(TeamRecord {
                    id,
                    workspace_id: workspace,
                    name: row.try_get("name")?,
                    policy: row.try_get("policy")?,
                    members: member.map(AccountId).into_iter().collect(),
                }),
            }
        }
        let agents = agent_records(&agent_rows, &teams)?;
        let chosen = decide(&queue, &agents);
        let mut applied = Vec::with_capacity(chosen.len());
        for pick in chosen {
            let Some(entry) = queue
                .iter()
                .find(|q| q.conversation_id == pick.conversation_id)
            else {
                continue;
            };
            sqlx::query("delete from queue_entry where conversation_id = $1")
                .bind(pick.conversation_id.0)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "insert into assignment
                     (workspace_id, conversation_id, account_id, contact_id, assigned_at)
                 values ($1, $2, $3, $4, $5)",
            )
            .bind(workspace.0)
            .bind(pick.conversation_id.0)
            .bind(pick.agent.0)
            .bind(entry.contact_id.map(|c| c.0))
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "insert into agent_state (account_id, status, capacity, skills, last_assigned_at,
                     updated_at)
                 values ($1, 'offline', $2, '[]', $3, $3)
                 on conflict (account_id) do update set last_assigned_at = $3",
            )
            .bind(pick.agent.0)
            .bind(i64::from(default_capacity))
            .bind(pick.assigned_at.max(now))
            .execute(&mut *tx)
            .await?;
            applied.push(pick);
        }
        // The event ids come last: the counter row is held from here to the commit.
        let first = events::reserve(&mut tx, applied.len()).await?;
        let mut committed = Vec::with_capacity(applied.len());
        for (offset, pick) in applied.iter().enumerate() {
            let id = first + i64::try_from(offset).unwrap_or(0);
            let conversation = conversation_in_tx(&mut tx, workspace, pick.conversation_id).await?;
            let joined = NewParticipant {
                account_id: pick.agent,
                role: ParticipantRole::Agent,
                visibility: Visibility::Full,
            };
            let participant = join_in_tx(&mut tx, &conversation, &joined, id, now).await?;
            let members = events::members(&mut tx, self.backend, conversation.id).await?;
            committed.extend(
                events::append(
                    &mut tx,
                    id,
                    now,
                    &members,
                    vec![Draft::new(EventPayload::ParticipantJoined { participant })],
                )
                .await?,
            );
        }
        tx.commit().await?;
        Ok(Committed {
            value: applied,
            events: committed,
        })
    }
}

fn agent_records(rows: &[AnyRow], teams: &[TeamRecord]) -> Result<Vec<AgentRecord>, StoreError> {
    rows.iter()
        .map(|row| {
            let account_id = AccountId(row.try_get("account_id")?);
            Ok(AgentRecord {
                account_id,
                status: row.try_get("status")?,
                capacity: u32::try_from(row.try_get::<i64, _>("capacity")?).unwrap_or(0),
                skills: json_list(&row.try_get::<String, _>("skills")?, "skills")?,
                last_assigned_at: row.try_get("last_assigned_at")?,
                load: u32::try_from(row.try_get::<i64, _>("load")?).unwrap_or(u32::MAX),
                teams: teams
                    .iter()
                    .filter(|t| t.members.contains(&account_id))
                    .map(|t| t.id)
                    .collect(),
            })
        })
        .collect()
}

async fn check_team(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    workspace: WorkspaceId,
    team: i64,
) -> Result<(), StoreError> {
    let found: Option<i64> =
        sqlx::query_scalar("select team_id from team where team_id = $1 and workspace_id = $2")
            .bind(team)
            .bind(workspace.0)
            .fetch_optional(&mut **tx)
            .await?;
    found.map(|_| ()).ok_or_else(|| not_found("team"))
}

async fn set_members(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    workspace: WorkspaceId,
    team: i64,
    members: &[AccountId],
) -> Result<(), StoreError> {
    sqlx::query("delete from team_member where team_id = $1")
        .bind(team)
        .execute(&mut **tx)
        .await?;
    for member in members {
        let staff: Option<i64> = sqlx::query_scalar(
            "select account_id from account
             where account_id = $1 and workspace_id = $2 and kind = 'staff'
               and deactivated_at is null",
        )
        .bind(member.0)
        .bind(workspace.0)
        .fetch_optional(&mut **tx)
        .await?;
        if staff.is_none() {
            return Err(not_found("account"));
        }
        sqlx::query(
            "insert into team_member (team_id, account_id) values ($1, $2) on conflict do nothing",
        )
        .bind(team)
        .bind(member.0)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// A transfer waiting for its receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferOffer {
    pub conversation_id: ConversationId,
    pub workspace_id: WorkspaceId,
    pub from_agent: AccountId,
    pub to_agent: AccountId,
    pub expires_at: i64,
}

fn offer(row: &AnyRow) -> Result<TransferOffer, StoreError> {
    Ok(TransferOffer {
        conversation_id: ConversationId(row.try_get("conversation_id")?),
        workspace_id: WorkspaceId(row.try_get("workspace_id")?),
        from_agent: AccountId(row.try_get("from_agent")?),
        to_agent: AccountId(row.try_get("to_agent")?),
        expires_at: row.try_get("expires_at")?,
    })
}

impl Store {
    /// Offers a chat to `to` (replacing an earlier offer of the same chat).
    pub async fn offer_transfer(
        &self,
        workspace: WorkspaceId,
        conversation: ConversationId,
        from: AccountId,
        to: AccountId,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "insert into transfer_offer
                 (conversation_id, workspace_id, from_agent, to_agent, offered_at, expires_at)
             values ($1, $2, $3, $4, $5, $6)
             on conflict (conversation_id) do update set from_agent = excluded.from_agent,
                 to_agent = excluded.to_agent, offered_at = excluded.offered_at,
                 expires_at = excluded.expires_at",
        )
        .bind(conversation.0)
        .bind(workspace.0)
        .bind(from.0)
        .bind(to.0)
        .bind(now_millis())
        .bind(expires_at)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Takes the offer of a chat out (accepted, declined or expired): exactly one caller
    /// gets it, so an accept racing the expiry cannot both happen.
    pub async fn take_transfer_offer(
        &self,
        conversation: ConversationId,
    ) -> Result<Option<TransferOffer>, StoreError> {
        let row = sqlx::query(
            "delete from transfer_offer where conversation_id = $1
             returning conversation_id, workspace_id, from_agent, to_agent, expires_at",
        )
        .bind(conversation.0)
        .fetch_optional(&self.write)
        .await?;
        row.as_ref().map(offer).transpose()
    }

    /// The offer of a chat, if any.
    pub async fn transfer_offer(
        &self,
        conversation: ConversationId,
    ) -> Result<Option<TransferOffer>, StoreError> {
        let row = sqlx::query(
            "select conversation_id, workspace_id, from_agent, to_agent, expires_at
             from transfer_offer where conversation_id = $1",
        )
        .bind(conversation.0)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(offer).transpose()
    }

    /// Offers past their time.
    pub async fn expired_transfer_offers(
        &self,
        now: i64,
    ) -> Result<Vec<TransferOffer>, StoreError> {
        let rows = sqlx::query(
            "select conversation_id, workspace_id, from_agent, to_agent, expires_at
             from transfer_offer where expires_at <= $1 order by expires_at limit 500",
        )
        .bind(now)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(offer).collect()
    }

    /// Records that `agent` now handles `conversation` (a transfer accepted), ending the
    /// previous holder's assignment.
    pub async fn reassign(
        &self,
        workspace: WorkspaceId,
        conversation: ConversationId,
        agent: AccountId,
    ) -> Result<(), StoreError> {
        let now = now_millis();
        let mut tx = self.begin().await?;
        sqlx::query(
            "update assignment set ended_at = $1 where conversation_id = $2 and ended_at is null",
        )
        .bind(now)
        .bind(conversation.0)
        .execute(&mut *tx)
        .await?;
        let contact: Option<i64> = sqlx::query_scalar(
            "select account_id from participant
             where conversation_id = $1 and role = 'customer' and left_at is null limit 1",
        )
        .bind(conversation.0)
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query(
            "insert into assignment
                 (workspace_id, conversation_id, account_id, contact_id, assigned_at)
             values ($1, $2, $3, $4, $5)",
        )
        .bind(workspace.0)
        .bind(conversation.0)
        .bind(agent.0)
        .bind(contact)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

impl Store {
    /// Open support chats of `workspace` that a customer wrote in before `due_before` and no
    /// staff member has answered since, not yet recorded as breaching the first-response
    /// SLA. Each is recorded now (so it is reported once); returns them with the time of the
    /// customer's first message.
    pub async fn record_sla_breaches(
        &self,
        workspace: WorkspaceId,
        due_before: i64,
    ) -> Result<Vec<(ConversationId, i64)>, StoreError> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "select c.conversation_id, min(m.created_at) as first_at
             from conversation c
             join message m on m.conversation_id = c.conversation_id
             join account a on a.account_id = m.sender_id and a.kind = 'contact'
             where c.workspace_id = $1 and c.kind = 'support' and c.status in ('open', 'pending')
               and not exists (select 1 from sla_breach b
                               where b.conversation_id = c.conversation_id)
               and not exists (select 1 from message r join account s
                                 on s.account_id = r.sender_id and s.kind = 'staff'
                               where r.conversation_id = c.conversation_id
                                 and r.kind <> 'note')
             group by c.conversation_id
             having min(m.created_at) < $2
             limit 500",
        )
        .bind(workspace.0)
        .bind(due_before)
        .fetch_all(&self.read)
        .await?;
        let mut breached = Vec::with_capacity(rows.len());
        for (conversation, first_at) in rows {
            let done = sqlx::query(
                "insert into sla_breach (conversation_id, workspace_id, breached_at)
                 values ($1, $2, $3) on conflict (conversation_id) do nothing",
            )
            .bind(conversation)
            .bind(workspace.0)
            .bind(now_millis())
            .execute(&self.write)
            .await?;
            // Another node recorded it first: it reports it, not this one.
            if done.rows_affected() > 0 {
                breached.push((ConversationId(conversation), first_at));
            }
        }
        Ok(breached)
    }
}
