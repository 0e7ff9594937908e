-- Queues and routing: teams with an assignment policy, agents' availability, the queue of
-- waiting support conversations, admins' routing rules, and the assignment history the
-- wait estimate comes from.

create table team (
    team_id bigint generated always as identity primary key,
    workspace_id bigint not null references workspace (workspace_id),
    name text not null,
    policy text not null check (policy in ('round_robin', 'least_loaded', 'skills_based', 'manual')),
    created_at bigint not null,
    updated_at bigint not null
);
create index team_workspace_idx on team (workspace_id, team_id);

create table team_member (
    team_id bigint not null references team (team_id),
    account_id bigint not null references account (account_id),
    primary key (team_id, account_id)
);
create index team_member_account_idx on team_member (account_id);

-- An agent's availability; no row = offline with the default capacity.
create table agent_state (
    account_id bigint primary key references account (account_id),
    status text not null check (status in ('online', 'away', 'busy', 'offline')),
    capacity bigint not null,
    -- JSON array of skill names
    skills text not null,
    -- when the agent last received a chat (round-robin order)
    last_assigned_at bigint not null default 0,
    updated_at bigint not null
);

-- Support conversations waiting for an agent.
create table queue_entry (
    conversation_id bigint primary key references conversation (conversation_id),
    workspace_id bigint not null references workspace (workspace_id),
    website_id bigint references website (website_id),
    team_id bigint references team (team_id),
    priority text not null check (priority in ('low', 'normal', 'high', 'urgent')),
    enqueued_at bigint not null,
    -- JSON array of skills the conversation needs
    needs text not null,
    -- a returning customer's last agent
    preferred_agent bigint,
    -- JSON array of agents who must not get it (declined a transfer)
    excluded text not null,
    escalated_at bigint
);
-- The assignment run reads a workspace's queue in priority and arrival order.
create index queue_entry_workspace_idx on queue_entry (workspace_id, enqueued_at);

-- Admins' rules, applied in `position` order when a conversation enters the queue; the
-- first rule that matches sets priority, team and needed skills.
create table routing_rule (
    rule_id bigint generated always as identity primary key,
    workspace_id bigint not null references workspace (workspace_id),
    position bigint not null,
    -- JSON: {"website_id": 3} | {"attribute": {"name": "plan", "equals": "premium"}} | {"keyword": "refund"} | "always"
    condition text not null,
    priority text check (priority in ('low', 'normal', 'high', 'urgent')),
    team_id bigint references team (team_id),
    needs text not null,
    created_at bigint not null
);
create index routing_rule_workspace_idx on routing_rule (workspace_id, position);

-- Who handled which chat when: the wait estimate's recent handling times, and a returning
-- customer's last agent.
create table assignment (
    assignment_id bigint generated always as identity primary key,
    workspace_id bigint not null references workspace (workspace_id),
    conversation_id bigint not null references conversation (conversation_id),
    account_id bigint not null references account (account_id),
    contact_id bigint references account (account_id),
    assigned_at bigint not null,
    ended_at bigint
);
create index assignment_recent_idx on assignment (workspace_id, ended_at);
create index assignment_contact_idx on assignment (contact_id, assigned_at);
create index assignment_open_idx on assignment (account_id, ended_at);

-- One row per workspace, locked for the length of an assignment run (PostgreSQL): runs on
-- several nodes take turns, so no chat is assigned twice and no agent goes over capacity.
create table routing_lock (
    workspace_id bigint primary key references workspace (workspace_id)
);

-- A transfer to a named agent waiting for that agent to accept; past `expires_at` the chat
-- goes back to the queue (without that agent).
create table transfer_offer (
    conversation_id bigint primary key references conversation (conversation_id),
    workspace_id bigint not null references workspace (workspace_id),
    from_agent bigint not null references account (account_id),
    to_agent bigint not null references account (account_id),
    offered_at bigint not null,
    expires_at bigint not null
);
create index transfer_offer_expiry_idx on transfer_offer (expires_at);

-- First-response SLA breaches, once per conversation (so supervisors hear of each once).
create table sla_breach (
    conversation_id bigint primary key references conversation (conversation_id),
    workspace_id bigint not null references workspace (workspace_id),
    breached_at bigint not null
);
