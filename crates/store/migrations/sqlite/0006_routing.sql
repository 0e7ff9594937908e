-- Queues and routing: teams with an assignment policy, agents' availability, the queue of
-- waiting support conversations, admins' routing rules, and the assignment history the
-- wait estimate comes from.

create table team (
    team_id integer primary key,
    workspace_id integer not null references workspace (workspace_id),
    name text not null,
    policy text not null check (policy in ('round_robin', 'least_loaded', 'skills_based', 'manual')),
    created_at integer not null,
    updated_at integer not null
);
create index team_workspace_idx on team (workspace_id, team_id);

create table team_member (
    team_id integer not null references team (team_id),
    account_id integer not null references account (account_id),
    primary key (team_id, account_id)
);
create index team_member_account_idx on team_member (account_id);

-- An agent's availability; no row = offline with the default capacity.
create table agent_state (
    account_id integer primary key references account (account_id),
    status text not null check (status in ('online', 'away', 'busy', 'offline')),
    capacity integer not null,
    -- JSON array of skill names
    skills text not null,
    -- when the agent last received a chat (round-robin order)
    last_assigned_at integer not null default 0,
    updated_at integer not null
);

-- Support conversations waiting for an agent.
create table queue_entry (
    conversation_id integer primary key references conversation (conversation_id),
    workspace_id integer not null references workspace (workspace_id),
    website_id integer references website (website_id),
    team_id integer references team (team_id),
    priority text not null check (priority in ('low', 'normal', 'high', 'urgent')),
    enqueued_at integer not null,
    -- JSON array of skills the conversation needs
    needs text not null,
    -- a returning customer's last agent
    preferred_agent integer,
    -- JSON array of agents who must not get it (declined a transfer)
    excluded text not null,
    escalated_at integer
);
-- The assignment run reads a workspace's queue in priority and arrival order.
create index queue_entry_workspace_idx on queue_entry (workspace_id, enqueued_at);

-- Admins' rules, applied in `position` order when a conversation enters the queue; the
-- first rule that matches sets priority, team and needed skills.
create table routing_rule (
    rule_id integer primary key,
    workspace_id integer not null references workspace (workspace_id),
    position integer not null,
    -- JSON: {"website_id": 3} | {"attribute": {"name": "plan", "equals": "premium"}} | {"keyword": "refund"} | "always"
    condition text not null,
    priority text check (priority in ('low', 'normal', 'high', 'urgent')),
    team_id integer references team (team_id),
    needs text not null,
    created_at integer not null
);
create index routing_rule_workspace_idx on routing_rule (workspace_id, position);

-- Who handled which chat when: the wait estimate's recent handling times, and a returning
-- customer's last agent.
create table assignment (
    assignment_id integer primary key,
    workspace_id integer not null references workspace (workspace_id),
    conversation_id integer not null references conversation (conversation_id),
    account_id integer not null references account (account_id),
    contact_id integer references account (account_id),
    assigned_at integer not null,
    ended_at integer
);
create index assignment_recent_idx on assignment (workspace_id, ended_at);
create index assignment_contact_idx on assignment (contact_id, assigned_at);
create index assignment_open_idx on assignment (account_id, ended_at);

-- One row per workspace, locked for the length of an assignment run (PostgreSQL): runs on
-- several nodes take turns, so no chat is assigned twice and no agent goes over capacity.
create table routing_lock (
    workspace_id integer primary key references workspace (workspace_id)
);

-- A transfer to a named agent waiting for that agent to accept; past `expires_at` the chat
-- goes back to the queue (without that agent).
create table transfer_offer (
    conversation_id integer primary key references conversation (conversation_id),
    workspace_id integer not null references workspace (workspace_id),
    from_agent integer not null references account (account_id),
    to_agent integer not null references account (account_id),
    offered_at integer not null,
    expires_at integer not null
);
create index transfer_offer_expiry_idx on transfer_offer (expires_at);

-- First-response SLA breaches, once per conversation (so supervisors hear of each once).
create table sla_breach (
    conversation_id integer primary key references conversation (conversation_id),
    workspace_id integer not null references workspace (workspace_id),
    breached_at integer not null
);
