-- A staff member's photo, shown to visitors next to the agent's name in the widget (when the
-- website shows agent photos) and to colleagues in the workspace. An http(s) URL chosen by
-- the staff member; natter does not fetch or host it.
alter table account add column avatar_url text;
