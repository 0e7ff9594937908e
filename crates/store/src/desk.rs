//! The agent workspace's storage: the inbox (filtered, searched, sorted, with each row's labels,
//! people, newest message and unread count), labels, canned responses and notification
//! preferences.
//!
//! Inbox filters are built as SQL text with numbered parameters: the set of filters varies per
//! request, and sqlx's query builder does not number parameters for the `Any` driver. Client
//! text only ever travels as a bound parameter; ids formatted into the text are integers.

use std::collections::HashMap;

use natter_core::desk::{
    CannedResponse, InboxItem, InboxPerson, LabelCount, MessagePreview, PREVIEW_CHARS, WebsiteCount,
};
use natter_core::ids::{AccountId, ConversationId, WebsiteId, WorkspaceId};
use natter_core::model::MessageKind;
use natter_core::time::now_millis;
use natter_core::{Error, ErrorCode};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::{domain, not_found};
use crate::{Store, StoreError, rows};

/// Which conversations an inbox view holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum InboxView {
    #[default]
    All,
    /// The viewer takes part.
    Mine,
    /// No staff member takes part.
    Unassigned,
}

/// What a staff member may see, and how they filter it.
#[derive(Debug, Clone)]
pub struct InboxQuery {
    pub viewer: AccountId,
    /// Only these websites (`None`: every conversation). An agent limited to some websites
    /// passes them here, together with `include_no_website` for chats from other channels.
    pub websites: Option<Vec<WebsiteId>>,
    pub include_no_website: bool,
    pub view: InboxView,
    pub status: Option<String>,
    /// A label, already normalised.
    pub label: Option<String>,
    /// Search text as typed.
    pub search: Option<String>,
    /// Oldest activity first (who has waited longest).
    pub oldest_first: bool,
    pub limit: u32,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One page of a workspace's inbox.
#[derive(Debug, Clone)]
pub struct InboxRows {
    pub items: Vec<InboxItem>,
    pub next_cursor: Option<String>,
}

/// How many open or pending conversations each view holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboxTallies {
    pub all: i64,
    pub mine: i64,
    pub unassigned: i64,
    pub unread_mine: i64,
    pub by_website: Vec<WebsiteCount>,
    pub by_label: Vec<LabelCount>,
}

/// A canned response to create or change.
#[derive(Debug, Clone, Default)]
pub struct CannedFields {
    pub shortcut: Option<String>,
    pub title: Option<String>,
    pub body: Option<String>,
}

enum Bind {
    Int(i64),
    Text(String),
}

/// SQL conditions with their parameters, numbered in order.
#[derive(Default)]
struct Filter {
    conditions: Vec<String>,
    binds: Vec<Bind>,
}

impl Filter {
    fn int(&mut self, value: i64) -> String {
        self.binds.push(Bind::Int(value));
        format!("${}", self.binds.len())
    }

    fn text(&mut self, value: String) -> String {
        self.binds.push(Bind::Text(value));
        format!("${}", self.binds.len())
    }

    fn and(&mut self, condition: String) {
        self.conditions.push(condition);
    }

    fn sql(&self) -> String {
        self.conditions.join(" and ")
    }

    fn bind<'q>(
        &'q self,
        mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
        for b in &self.binds {
            query = match b {
                Bind::Int(v) => query.bind(*v),
                Bind::Text(v) => query.bind(v.as_str()),
            };
        }
        query
    }
}

/// `like` pattern for a substring search, with the wildcards of the text escaped.
fn contains_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

const STAFF_TAKES_PART: &str = "exists (select 1 from participant s join account sa
    on sa.account_id = s.account_id
    where s.conversation_id = c.conversation_id and s.left_at is null and sa.kind = 'staff')";

/// Messages a viewer has not read in conversation `c` (given the viewer's bind).
fn unread_exists(viewer: &str) -> String {
    format!(
        "exists (select 1 from message m
           join participant p on p.conversation_id = m.conversation_id
             and p.account_id = {viewer} and p.left_at is null
           where m.conversation_id = c.conversation_id and m.seq > p.read_seq
             and m.kind in ('text', 'event') and m.deleted_at is null
             and (m.sender_id is null or m.sender_id <> {viewer}))"
    )
}

/// The conditions every inbox query shares: workspace, websites, status, label, search.
fn scope(workspace: WorkspaceId, q: &InboxQuery, open_only: bool) -> Filter {
    let mut f = Filter::default();
    let ws = f.int(workspace.0);
    f.and(format!("c.workspace_id = {ws}"));
    if let Some(ids) = &q.websites {
        let list: Vec<String> = ids.iter().map(|w| w.0.to_string()).collect();
        let some = if list.is_empty() {
            "1 = 0".to_string()
        } else {
            format!("c.website_id in ({})", list.join(", "))
        };
        f.and(if q.include_no_website {
            format!("({some} or c.website_id is null)")
        } else {
            some
        });
    }
    if open_only {
        f.and("c.status in ('open', 'pending')".into());
    } else if let Some(status) = &q.status {
        let s = f.text(status.clone());
        f.and(format!("c.status = {s}"));
    }
    if let Some(label) = &q.label {
        let l = f.text(label.to_lowercase());
        f.and(format!(
            "exists (select 1 from conversation_label l
               where l.conversation_id = c.conversation_id and l.label_key = {l})"
        ));
    }
    if let Some(search) = q.search.as_deref().filter(|s| !s.trim().is_empty()) {
        let pattern = f.text(contains_pattern(search.trim()));
        f.and(format!(
            "(lower(coalesce(c.subject, '')) like {pattern} escape '\\'
              or exists (select 1 from participant cp join account ca
                           on ca.account_id = cp.account_id
                         where cp.conversation_id = c.conversation_id and ca.kind = 'contact'
                           and (lower(coalesce(ca.name, '')) like {pattern} escape '\\'
                                or lower(coalesce(ca.email, '')) like {pattern} escape '\\')))"
        ));
    }
    f
}

fn mine(f: &mut Filter, viewer: AccountId) -> String {
    let v = f.int(viewer.0);
    format!(
        "exists (select 1 from participant me where me.conversation_id = c.conversation_id
           and me.account_id = {v} and me.left_at is null)"
    )
}

fn id_list(ids: &[ConversationId]) -> String {
    ids.iter()
        .map(|c| c.0.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn preview(body: &str, deleted: bool) -> String {
    if deleted {
        return String::new();
    }
    let flat: String = body
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect();
    let mut out: String = flat.chars().take(PREVIEW_CHARS).collect();
    if flat.chars().count() > PREVIEW_CHARS {
        out.pop();
        out.push('…');
    }
    out
}

fn canned(row: &AnyRow) -> Result<CannedResponse, StoreError> {
    let owner: Option<i64> = row.try_get("owner_id")?;
    Ok(CannedResponse {
        id: row.try_get("canned_id")?,
        shortcut: row.try_get("shortcut")?,
        title: row.try_get("title")?,
        body: row.try_get("body")?,
        shared: owner.is_none(),
        owner_id: owner.map(AccountId),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

const CANNED_COLUMNS: &str = "canned_id, owner_id, shortcut, title, body, created_at, updated_at";

impl Store {
    /// A page of the inbox, each row with its labels, people, newest message and unread count.
    pub async fn inbox(
        &self,
        workspace: WorkspaceId,
        q: &InboxQuery,
    ) -> Result<InboxRows, StoreError> {
        let mut f = scope(workspace, q, false);
        match q.view {
            InboxView::All => {}
            InboxView::Mine => {
                let cond = mine(&mut f, q.viewer);
                f.and(cond);
            }
            InboxView::Unassigned => f.and(format!("not {STAFF_TAKES_PART}")),
        }
        let (activity, id) = match &q.cursor {
            Some(c) => crate::conversations::parse_cursor(c)?,
            None if q.oldest_first => (i64::MIN, i64::MIN),
            None => (i64::MAX, i64::MAX),
        };
        let (a, i) = (f.int(activity), f.int(id));
        let (cmp, order) = if q.oldest_first {
            (">", "asc")
        } else {
            ("<", "desc")
        };
        f.and(format!(
            "(c.last_activity_at {cmp} {a} or (c.last_activity_at = {a} and c.conversation_id {cmp} {i}))"
        ));
        let limit = f.int(i64::from(q.limit) + 1);
        let sql = format!(
            "select {} from conversation c where {}
             order by c.last_activity_at {order}, c.conversation_id {order} limit {limit}",
            rows::conversation_columns!(),
            f.sql()
        );
        let found = f
            .bind(sqlx::query(sqlx::AssertSqlSafe(sql)))
            .fetch_all(&self.read)
            .await?;
        let mut conversations = found
            .iter()
            .map(rows::conversation)
            .collect::<Result<Vec<_>, StoreError>>()?;
        let next_cursor = if conversations.len() > q.limit as usize {
            conversations.truncate(q.limit as usize);
            conversations
                .last()
                .map(|c| format!("{}.{}", c.last_activity_at, c.id.0))
        } else {
            None
        };
        let ids: Vec<ConversationId> = conversations.iter().map(|c| c.id).collect();
        let mut extras = self.inbox_extras(&ids, q.viewer).await?;
        let items = conversations
            .into_iter()
            .map(|conversation| {
                let extra = extras.remove(&conversation.id).unwrap_or_default();
                InboxItem {
                    conversation,
                    labels: extra.labels,
                    contact: extra.contact,
                    assignees: extra.assignees,
                    unread: extra.unread,
                    last_message: extra.last_message,
                }
            })
            .collect();
        Ok(InboxRows { items, next_cursor })
    }

    /// Labels, people, newest message and unread count of a page of conversations: four
    /// set-based reads for the whole page.
    async fn inbox_extras(
        &self,
        ids: &[ConversationId],
        viewer: AccountId,
    ) -> Result<HashMap<ConversationId, Extras>, StoreError> {
        let mut out: HashMap<ConversationId, Extras> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let list = id_list(ids);
        let labels = sqlx::query(sqlx::AssertSqlSafe(format!(
            "select conversation_id, label from conversation_label
             where conversation_id in ({list}) order by conversation_id, created_at, label_key"
        )))
        .fetch_all(&self.read)
        .await?;
        for row in &labels {
            let id = ConversationId(row.try_get("conversation_id")?);
            out.entry(id)
                .or_default()
                .labels
                .push(row.try_get("label")?);
        }
        let people = sqlx::query(sqlx::AssertSqlSafe(format!(
            "select p.conversation_id, a.account_id, a.kind, a.name, a.email
             from participant p join account a on a.account_id = p.account_id
             where p.conversation_id in ({list}) and p.left_at is null
             order by p.conversation_id, p.joined_at, a.account_id"
        )))
        .fetch_all(&self.read)
        .await?;
        for row in &people {
            let id = ConversationId(row.try_get("conversation_id")?);
            let person = InboxPerson {
                id: AccountId(row.try_get("account_id")?),
                name: row.try_get("name")?,
                email: row.try_get("email")?,
            };
            let entry = out.entry(id).or_default();
            if row.try_get::<String, _>("kind")? == "staff" {
                entry.assignees.push(person);
            } else if entry.contact.is_none() {
                entry.contact = Some(person);
            }
        }
        let last = sqlx::query(sqlx::AssertSqlSafe(format!(
            "select m.conversation_id, m.seq, m.kind, m.sender_id, m.body, m.created_at,
                    m.deleted_at
             from message m join conversation c
               on c.conversation_id = m.conversation_id and m.seq = c.last_seq
             where c.conversation_id in ({list})"
        )))
        .fetch_all(&self.read)
        .await?;
        for row in &last {
            let id = ConversationId(row.try_get("conversation_id")?);
            let kind: String = row.try_get("kind")?;
            let deleted: Option<i64> = row.try_get("deleted_at")?;
            let body: String = row.try_get("body")?;
            out.entry(id).or_default().last_message = Some(MessagePreview {
                seq: row.try_get("seq")?,
                kind: MessageKind::parse(&kind)
                    .ok_or_else(|| StoreError::Corrupt(format!("message kind {kind}")))?,
                sender_id: row.try_get::<Option<i64>, _>("sender_id")?.map(AccountId),
                body: preview(&body, deleted.is_some()),
                created_at: row.try_get("created_at")?,
            });
        }
        let unread = sqlx::query(sqlx::AssertSqlSafe(format!(
            "select m.conversation_id, count(*) as n
             from message m left join participant p
               on p.conversation_id = m.conversation_id and p.account_id = $1
                  and p.left_at is null
             where m.conversation_id in ({list}) and m.seq > coalesce(p.read_seq, 0)
               and m.kind in ('text', 'event') and m.deleted_at is null
               and (m.sender_id is null or m.sender_id <> $1)
             group by m.conversation_id"
        )))
        .bind(viewer.0)
        .fetch_all(&self.read)
        .await?;
        for row in &unread {
            let id = ConversationId(row.try_get("conversation_id")?);
            out.entry(id).or_default().unread = row.try_get("n")?;
        }
        Ok(out)
    }

    /// How many open or pending conversations each view holds, within the query's websites
    /// and search (its view, status and cursor are ignored).
    pub async fn inbox_tallies(
        &self,
        workspace: WorkspaceId,
        q: &InboxQuery,
    ) -> Result<InboxTallies, StoreError> {
        let count = |f: Filter| async move {
            let sql = format!("select count(*) from conversation c where {}", f.sql());
            let n: i64 = f
                .bind(sqlx::query(sqlx::AssertSqlSafe(sql)))
                .fetch_one(&self.read)
                .await?
                .try_get(0)?;
            Ok::<i64, StoreError>(n)
        };
        let all = count(scope(workspace, q, true)).await?;
        let mut f = scope(workspace, q, true);
        let cond = mine(&mut f, q.viewer);
        f.and(cond);
        let mine_count = count(f).await?;
        let mut f = scope(workspace, q, true);
        f.and(format!("not {STAFF_TAKES_PART}"));
        let unassigned = count(f).await?;
        let mut f = scope(workspace, q, true);
        let v = f.int(q.viewer.0);
        f.and(unread_exists(&v));
        let unread_mine = count(f).await?;

        let f = scope(workspace, q, true);
        let sql = format!(
            "select c.website_id, count(*) as n from conversation c
             where {} and c.website_id is not null group by c.website_id order by c.website_id",
            f.sql()
        );
        let by_website = f
            .bind(sqlx::query(sqlx::AssertSqlSafe(sql)))
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(|row| {
                Ok(WebsiteCount {
                    website_id: WebsiteId(row.try_get("website_id")?),
                    count: row.try_get("n")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let by_label = self.label_counts(workspace, q, true).await?;
        Ok(InboxTallies {
            all,
            mine: mine_count,
            unassigned,
            unread_mine,
            by_website,
            by_label,
        })
    }

    /// Labels in use on the conversations the query may see, most used first. A label written
    /// in several cases shows in its most used spelling (ties: the first in byte order), the
    /// same on both backends whatever their collation.
    pub async fn label_counts(
        &self,
        workspace: WorkspaceId,
        q: &InboxQuery,
        open_only: bool,
    ) -> Result<Vec<LabelCount>, StoreError> {
        let f = scope(workspace, q, open_only);
        let sql = format!(
            "select l.label_key, l.label, count(*) as n
             from conversation_label l join conversation c on c.conversation_id = l.conversation_id
             where {} group by l.label_key, l.label",
            f.sql()
        );
        let rows = f
            .bind(sqlx::query(sqlx::AssertSqlSafe(sql)))
            .fetch_all(&self.read)
            .await?;
        // key -> (total, best spelling, its count)
        let mut by_key: HashMap<String, (i64, String, i64)> = HashMap::new();
        for row in &rows {
            let key: String = row.try_get("label_key")?;
            let label: String = row.try_get("label")?;
            let n: i64 = row.try_get("n")?;
            let entry = by_key.entry(key).or_insert((0, label.clone(), 0));
            entry.0 += n;
            if n > entry.2 || (n == entry.2 && label < entry.1) {
                entry.1 = label;
                entry.2 = n;
            }
        }
        let mut counts: Vec<(String, LabelCount)> = by_key
            .into_iter()
            .map(|(key, (count, label, _))| (key, LabelCount { label, count }))
            .collect();
        counts.sort_by(|a, b| b.1.count.cmp(&a.1.count).then_with(|| a.0.cmp(&b.0)));
        counts.truncate(200);
        Ok(counts.into_iter().map(|(_, c)| c).collect())
    }

    /// A conversation's labels, in the order they were added.
    pub async fn labels(&self, conversation: ConversationId) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "select label from conversation_label where conversation_id = $1
             order by created_at, label_key",
        )
        .bind(conversation.0)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| r.try_get("label").map_err(StoreError::from))
            .collect()
    }

    /// Replaces a conversation's labels (already normalised and de-duplicated).
    pub async fn set_labels(
        &self,
        workspace: WorkspaceId,
        conversation: ConversationId,
        labels: &[String],
    ) -> Result<Vec<String>, StoreError> {
        let mut tx = self.begin().await?;
        if self.backend == crate::Backend::Postgres {
            // Two agents labelling at once take turns: each replaces the whole set, and without
            // the lock their deletes and inserts would interleave into a duplicate key. (SQLite
            // has one writer.) The same lock a message send takes, so the two queue.
            sqlx::query(
                "select conversation_id from conversation where conversation_id = $1
                 for no key update",
            )
            .bind(conversation.0)
            .fetch_optional(&mut *tx)
            .await?;
        }
        sqlx::query("delete from conversation_label where conversation_id = $1")
            .bind(conversation.0)
            .execute(&mut *tx)
            .await?;
        let now = now_millis();
        for (i, label) in labels.iter().enumerate() {
            // Offsets keep the given order among labels written in the same millisecond.
            let at = now.saturating_add(i64::try_from(i).unwrap_or(0));
            sqlx::query(
                "insert into conversation_label
                   (conversation_id, label_key, label, workspace_id, created_at)
                 values ($1, $2, $3, $4, $5)",
            )
            .bind(conversation.0)
            .bind(label.to_lowercase())
            .bind(label.as_str())
            .bind(workspace.0)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.labels(conversation).await
    }

    /// Adds one label (already normalised), unless the conversation has it or already holds
    /// `max` labels (then a `invalid_field` refusal). Concurrent additions of different labels
    /// both land.
    pub async fn add_label(
        &self,
        workspace: WorkspaceId,
        conversation: ConversationId,
        label: &str,
        max: usize,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let held: i64 = sqlx::query_scalar(
            "select count(*) from conversation_label where conversation_id = $1 and label_key <> $2",
        )
        .bind(conversation.0)
        .bind(label.to_lowercase())
        .fetch_one(&mut *tx)
        .await?;
        if usize::try_from(held).unwrap_or(usize::MAX) >= max {
            return Err(StoreError::Domain(Error::invalid(format!(
                "at most {max} labels per conversation"
            ))));
        }
        sqlx::query(
            "insert into conversation_label
               (conversation_id, label_key, label, workspace_id, created_at)
             values ($1, $2, $3, $4, $5)
             on conflict (conversation_id, label_key) do nothing",
        )
        .bind(conversation.0)
        .bind(label.to_lowercase())
        .bind(label)
        .bind(workspace.0)
        .bind(now_millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes one label, whatever its case.
    pub async fn remove_label(
        &self,
        conversation: ConversationId,
        label: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("delete from conversation_label where conversation_id = $1 and label_key = $2")
            .bind(conversation.0)
            .bind(label.to_lowercase())
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// The canned responses one staff member sees: the workspace's and their own.
    pub async fn canned_responses(
        &self,
        workspace: WorkspaceId,
        viewer: AccountId,
    ) -> Result<Vec<CannedResponse>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "select {CANNED_COLUMNS} from canned_response
             where workspace_id = $1 and (owner_id is null or owner_id = $2)
             order by shortcut, scope_key"
        )))
        .bind(workspace.0)
        .bind(viewer.0)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(canned).collect()
    }

    pub async fn canned_response(
        &self,
        workspace: WorkspaceId,
        id: i64,
    ) -> Result<CannedResponse, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "select {CANNED_COLUMNS} from canned_response where workspace_id = $1 and canned_id = $2"
        )))
        .bind(workspace.0)
        .bind(id)
        .fetch_optional(&self.read)
        .await?
        .ok_or_else(|| not_found("canned response"))?;
        canned(&row)
    }

    /// Refuses a shortcut someone who would see this response already sees: a workspace-wide
    /// one clashes with every response of the workspace, a personal one with the workspace's
    /// and the owner's own.
    async fn check_shortcut_free(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        workspace: WorkspaceId,
        owner: Option<AccountId>,
        shortcut: &str,
        except: i64,
    ) -> Result<(), StoreError> {
        let clash: Option<i64> = match owner {
            None => {
                sqlx::query_scalar(
                    "select canned_id from canned_response
                     where workspace_id = $1 and shortcut = $2 and canned_id <> $3 limit 1",
                )
                .bind(workspace.0)
                .bind(shortcut)
                .bind(except)
                .fetch_optional(&mut **tx)
                .await?
            }
            Some(owner) => {
                sqlx::query_scalar(
                    "select canned_id from canned_response
                     where workspace_id = $1 and shortcut = $2 and canned_id <> $3
                       and (owner_id is null or owner_id = $4) limit 1",
                )
                .bind(workspace.0)
                .bind(shortcut)
                .bind(except)
                .bind(owner.0)
                .fetch_optional(&mut **tx)
                .await?
            }
        };
        if clash.is_some() {
            return Err(domain(
                ErrorCode::Conflict,
                "a canned response with this shortcut exists",
            ));
        }
        Ok(())
    }

    /// Creates a canned response (fields already checked); `owner` `None` is workspace-wide.
    pub async fn create_canned(
        &self,
        workspace: WorkspaceId,
        owner: Option<AccountId>,
        shortcut: &str,
        title: &str,
        body: &str,
        max_per_workspace: usize,
    ) -> Result<CannedResponse, StoreError> {
        let mut tx = self.begin().await?;
        let existing: i64 =
            sqlx::query_scalar("select count(*) from canned_response where workspace_id = $1")
                .bind(workspace.0)
                .fetch_one(&mut *tx)
                .await?;
        if usize::try_from(existing).unwrap_or(usize::MAX) >= max_per_workspace {
            return Err(StoreError::Domain(Error::new(
                ErrorCode::TooLarge,
                format!("a workspace has at most {max_per_workspace} canned responses"),
            )));
        }
        Self::check_shortcut_free(&mut tx, workspace, owner, shortcut, 0).await?;
        let now = now_millis();
        let id: i64 = sqlx::query_scalar(
            "insert into canned_response
               (workspace_id, owner_id, scope_key, shortcut, title, body, created_at, updated_at)
             values ($1, $2, $3, $4, $5, $6, $7, $7) returning canned_id",
        )
        .bind(workspace.0)
        .bind(owner.map(|o| o.0))
        .bind(owner.map_or(0, |o| o.0))
        .bind(shortcut)
        .bind(title)
        .bind(body)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| shortcut_clash(e.into()))?;
        tx.commit().await.map_err(|e| shortcut_clash(e.into()))?;
        self.canned_response(workspace, id).await
    }

    /// Changes a canned response (fields already checked).
    pub async fn update_canned(
        &self,
        workspace: WorkspaceId,
        id: i64,
        fields: &CannedFields,
    ) -> Result<CannedResponse, StoreError> {
        let mut tx = self.begin().await?;
        let owner: Option<Option<i64>> = sqlx::query_scalar(
            "select owner_id from canned_response where workspace_id = $1 and canned_id = $2",
        )
        .bind(workspace.0)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(owner) = owner else {
            return Err(not_found("canned response"));
        };
        if let Some(shortcut) = &fields.shortcut {
            Self::check_shortcut_free(&mut tx, workspace, owner.map(AccountId), shortcut, id)
                .await?;
        }
        sqlx::query(
            "update canned_response set shortcut = coalesce($1, shortcut),
                 title = coalesce($2, title), body = coalesce($3, body), updated_at = $4
             where workspace_id = $5 and canned_id = $6",
        )
        .bind(fields.shortcut.as_deref())
        .bind(fields.title.as_deref())
        .bind(fields.body.as_deref())
        .bind(now_millis())
        .bind(workspace.0)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| shortcut_clash(e.into()))?;
        tx.commit().await.map_err(|e| shortcut_clash(e.into()))?;
        self.canned_response(workspace, id).await
    }

    pub async fn delete_canned(&self, workspace: WorkspaceId, id: i64) -> Result<(), StoreError> {
        let done =
            sqlx::query("delete from canned_response where workspace_id = $1 and canned_id = $2")
                .bind(workspace.0)
                .bind(id)
                .execute(&self.write)
                .await?;
        if done.rows_affected() == 0 {
            return Err(not_found("canned response"));
        }
        Ok(())
    }

    /// A staff member's saved preferences (JSON), if they saved any.
    pub async fn preferences(&self, account: AccountId) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("select preferences from agent_preferences where account_id = $1")
                .bind(account.0)
                .fetch_optional(&self.read)
                .await?,
        )
    }

    pub async fn set_preferences(&self, account: AccountId, json: &str) -> Result<(), StoreError> {
        sqlx::query(
            "insert into agent_preferences (account_id, preferences, updated_at)
             values ($1, $2, $3)
             on conflict (account_id) do update
               set preferences = excluded.preferences, updated_at = excluded.updated_at",
        )
        .bind(account.0)
        .bind(json)
        .bind(now_millis())
        .execute(&self.write)
        .await?;
        Ok(())
    }
}

/// Two writers racing for one shortcut: the unique index decides, and the loser hears why.
fn shortcut_clash(e: StoreError) -> StoreError {
    match &e {
        StoreError::Database(sqlx::Error::Database(db))
            if db.is_unique_violation() || db.message().contains("UNIQUE constraint failed") =>
        {
            domain(
                ErrorCode::Conflict,
                "a canned response with this shortcut exists",
            )
        }
        _ => e,
    }
}

#[derive(Default)]
struct Extras {
    labels: Vec<String>,
    contact: Option<InboxPerson>,
    assignees: Vec<InboxPerson>,
    unread: i64,
    last_message: Option<MessagePreview>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_pattern_escapes_like_wildcards() {
        assert_eq!(contains_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
        assert_eq!(contains_pattern("Ada"), "%ada%");
    }

    #[test]
    fn a_preview_is_one_line_and_shortened_with_an_ellipsis() {
        assert_eq!(preview("hello\nworld", false), "hello world");
        assert_eq!(preview("secret", true), "");
        let long = "é".repeat(PREVIEW_CHARS + 10);
        let p = preview(&long, false);
        assert_eq!(p.chars().count(), PREVIEW_CHARS);
        assert!(p.ends_with('…'));
    }
}
