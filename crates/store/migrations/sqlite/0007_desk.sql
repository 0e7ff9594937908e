-- The agent workspace: labels on conversations, canned responses (workspace-wide and
-- personal) and each staff member's notification preferences.

create table conversation_label (
    conversation_id integer not null references conversation (conversation_id),
    -- lower-cased, so one label is one label whatever its case
    label_key text not null,
    -- as first written
    label text not null,
    workspace_id integer not null references workspace (workspace_id),
    created_at integer not null,
    primary key (conversation_id, label_key)
);
-- Filtering the inbox by label, and counting labels in use.
create index conversation_label_workspace_idx on conversation_label (workspace_id, label_key);

create table canned_response (
    canned_id integer primary key,
    workspace_id integer not null references workspace (workspace_id),
    -- null: workspace-wide
    owner_id integer references account (account_id),
    -- 0 for workspace-wide, else owner_id: one shortcut per scope
    scope_key integer not null,
    shortcut text not null,
    title text not null,
    body text not null,
    created_at integer not null,
    updated_at integer not null
);
create unique index canned_response_shortcut_key on canned_response (workspace_id, scope_key, shortcut);

create table agent_preferences (
    account_id integer primary key references account (account_id),
    -- JSON (natter_core::desk::AgentPreferences)
    preferences text not null,
    updated_at integer not null
);
