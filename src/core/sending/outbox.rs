//! The outbox: one SQLite file (WAL, mode 0600, schema versioned) holding every message from the
//! moment it is handed over until it is deleted — queued, being sent, sent (送信済み) or failed —
//! with its raw bytes, envelope, attempts, next attempt and last error. Every state change is one
//! transaction, so a crash at any instant loses nothing; rows left `sending` by a crash go back
//! to `queued` — only by whoever holds the send lock, so a process that merely opens the file
//! never takes a message out from under the sender. The message bytes live in their own table,
//! written once: a state change rewrites a small row, never the message. It does no network I/O
//! and knows no policy.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lettre::Address;
use lettre::address::Envelope;
use rusqlite::{Connection, OptionalExtension as _, params};

use crate::message::compose::Outgoing;
pub use crate::problem::kind::Described;
use crate::problem::kind::Kind;

/// The file's name in the data dir.
pub const FILE_NAME: &str = "outbox.sqlite3";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Queued,
    Sending,
    Sent,
    Failed,
}

impl Status {
    pub fn code(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Sending => "sending",
            Status::Sent => "sent",
            Status::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Status {
        match s {
            "sending" => Status::Sending,
            "sent" => Status::Sent,
            "failed" => Status::Failed,
            _ => Status::Queued,
        }
    }
}

/// A message as listed (without its bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub id: i64,
    pub message_id: String,
    pub subject: String,
    /// The recipients as shown (To, then Cc), comma-separated.
    pub to: String,
    pub state: Status,
    pub created: SystemTime,
    pub attempts: u32,
    pub next_attempt: SystemTime,
    pub last_error: Option<Described>,
    pub sent_at: Option<SystemTime>,
    /// The window's draft is stored with it (「編集」 can bring it back).
    pub editable: bool,
    /// The program it came from through the submission server (its EHLO name).
    pub via: Option<String>,
    /// 送信予約: not to be sent before this time.
    pub send_at: Option<SystemTime>,
    /// Which account's outbox holds it (`Account::index`): set by whoever lists several
    /// accounts' outboxes together; 0 as read.
    pub account: usize,
}

/// A queued message that is due, with what sending needs.
#[derive(Debug, Clone)]
pub struct Due {
    pub id: i64,
    pub attempts: u32,
    pub outgoing: Outgoing,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub queued: usize,
    pub sending: usize,
    pub sent: usize,
    pub failed: usize,
}

/// The queue is paused (wrong password, untrusted certificate, bad setup) until the settings
/// change (`config` differs) or the user asks to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pause {
    pub error: Described,
    /// A fingerprint of the settings the pause was made under.
    pub config: String,
}

#[derive(Debug)]
pub struct OutboxError {
    pub path: PathBuf,
    pub detail: String,
}

impl fmt::Display for OutboxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.detail)
    }
}

impl std::error::Error for OutboxError {}

pub type Result<T> = std::result::Result<T, OutboxError>;

/// Schema migrations, in order; `PRAGMA user_version` says how many have run.
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        message_id TEXT NOT NULL,
        mail_from TEXT,
        rcpts TEXT NOT NULL,
        subject TEXT NOT NULL,
        to_display TEXT NOT NULL,
        raw BLOB NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed')),
        created_ms INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms INTEGER NOT NULL,
        error_kind TEXT,
        error_reply TEXT,
        error_detail TEXT,
        sent_ms INTEGER
    );
    CREATE INDEX messages_due ON messages (state, next_attempt_ms);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
",
    "
    -- Lists are newest first per state: keep them off a full scan and sort at 10,000 rows.
    CREATE INDEX messages_listing ON messages (state, created_ms);
",
    "
    -- The window's draft (drafts::Unsent as TOML), so 「編集」 can bring a queued message back.
    ALTER TABLE messages ADD COLUMN draft TEXT;
",
    "
    -- The bytes apart from the row whose state changes: a state change used to rewrite the whole
    -- message (a 70 MB blob per change).
    CREATE TABLE bodies (id INTEGER PRIMARY KEY, raw BLOB NOT NULL);
    INSERT INTO bodies (id, raw) SELECT id, raw FROM messages;
    ALTER TABLE messages DROP COLUMN raw;
    CREATE TRIGGER messages_delete_body AFTER DELETE ON messages BEGIN DELETE FROM bodies WHERE id = OLD.id; END;
",
    "
    -- The program a message came from through the submission server (its EHLO name).
    ALTER TABLE messages ADD COLUMN via TEXT;
",
    "
    -- 送信予約: the time the student chose; the message is not sent before it, even by 今すぐ送信.
    ALTER TABLE messages ADD COLUMN send_at_ms INTEGER;
",
];

/// What a stored message keeps beside its bytes: the window's draft, the program it came from
/// (its EHLO name) and its 送信予約 time.
#[derive(Default)]
struct Kept<'a> {
    draft: Option<&'a str>,
    via: Option<&'a str>,
    send_at: Option<SystemTime>,
}

pub struct Outbox {
    conn: Connection,
    path: PathBuf,
}

/// Held while one process sends from the outbox; released when dropped (or when the process
/// dies: it is an OS file lock).
pub struct SendLock(#[allow(dead_code)] std::fs::File);

fn ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn time(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

const ROW_COLUMNS: &str = "id, message_id, subject, to_display, state, created_ms, attempts, next_attempt_ms, \
                           error_kind, error_reply, error_detail, sent_ms, draft IS NOT NULL, via, send_at_ms";

/// How many columns `ROW_COLUMNS` names: what `get` adds comes after them.
const ROW_COLUMN_COUNT: usize = 15;

const DUE_SELECT: &str =
    "SELECT m.id, m.attempts, m.message_id, m.mail_from, m.rcpts, b.raw FROM messages m JOIN bodies b ON b.id = m.id";

/// A row of `DUE_SELECT` as a message to send. Stored from a valid envelope; a row that no longer
/// reads as one (a damaged field, an envelope that does not parse) is `Err` with why, for the
/// caller to set aside — never lost, never due again.
fn due_row(r: &rusqlite::Row) -> rusqlite::Result<std::result::Result<Due, String>> {
    let read = || -> rusqlite::Result<std::result::Result<Due, String>> {
        let (id, attempts, message_id): (i64, u32, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
        let from = match r.get::<_, Option<String>>(3)? {
            None => None,
            Some(f) => match f.parse::<Address>() {
                Ok(a) => Some(a),
                Err(e) => return Ok(Err(format!("the stored sender {f:?} does not parse: {e}"))),
            },
        };
        let mut to = Vec::new();
        for a in r.get::<_, String>(4)?.lines() {
            match a.parse::<Address>() {
                Ok(a) => to.push(a),
                Err(e) => return Ok(Err(format!("the stored recipient {a:?} does not parse: {e}"))),
            }
        }
        let raw: Vec<u8> = r.get(5)?;
        Ok(Envelope::new(from, to)
            .map(|envelope| Due { id, attempts, outgoing: Outgoing { envelope, raw, message_id } })
            .map_err(|e| format!("the stored envelope is not usable: {e}")))
    };
    match read() {
        // A field of the wrong type or range: damaged data, not a database failure.
        Err(
            e @ (rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::IntegralValueOutOfRange(..)),
        ) => Ok(Err(format!("a stored field cannot be read: {e}"))),
        other => other,
    }
}

fn row(r: &rusqlite::Row) -> rusqlite::Result<Row> {
    let kind: Option<Kind> = r.get(8)?;
    Ok(Row {
        id: r.get(0)?,
        message_id: r.get(1)?,
        subject: r.get(2)?,
        to: r.get(3)?,
        state: Status::parse(&r.get::<_, String>(4)?),
        created: time(r.get(5)?),
        attempts: r.get(6)?,
        next_attempt: time(r.get(7)?),
        last_error: match kind {
            Some(kind) => {
                Some(Described { kind, reply: r.get(9)?, detail: r.get::<_, Option<String>>(10)?.unwrap_or_default() })
            }
            None => None,
        },
        sent_at: r.get::<_, Option<i64>>(11)?.map(time),
        editable: r.get(12)?,
        via: r.get(13)?,
        send_at: r.get::<_, Option<i64>>(14)?.map(time),
        account: 0,
    })
}

impl Outbox {
    /// Opens (creating if needed) the outbox in `data_dir`, migrates it, and puts rows a crash
    /// left in `sending` back to `queued`.
    pub fn open(data_dir: &Path) -> Result<Outbox> {
        let path = data_dir.join(FILE_NAME);
        let bad = |detail: String| OutboxError { path: path.clone(), detail };
        crate::system::files::create_private_dir(data_dir).map_err(|e| bad(e.to_string()))?;
        create_private(&path).map_err(|e| bad(e.to_string()))?;
        let conn = Connection::open(&path).map_err(|e| bad(e.to_string()))?;
        let mut outbox = Outbox { conn, path: path.clone() };
        make_private(&path).map_err(|e| bad(e.to_string()))?;
        // Switching a new file to WAL takes an exclusive lock that SQLite does not always wait
        // for; when several processes open the file at once, try again briefly (bounded).
        let mut tries = 0;
        loop {
            match outbox.setup() {
                Ok(()) => {
                    // SQLite made the WAL files from the main file's mode, which may have been
                    // loose before this version: tighten them too.
                    for suffix in ["-wal", "-shm"] {
                        let mut side = path.clone().into_os_string();
                        side.push(suffix);
                        make_private(Path::new(&side)).map_err(|e| bad(e.to_string()))?;
                    }
                    if let Some(_lock) = outbox.try_send_lock()? {
                        outbox.recover()?;
                    }
                    return Ok(outbox);
                }
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if tries < 100
                        && matches!(
                            e.code,
                            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                        ) =>
                {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(bad(e.to_string())),
            }
        }
    }

    fn setup(&mut self) -> rusqlite::Result<()> {
        self.conn.busy_timeout(Duration::from_secs(10))?;
        self.conn.pragma_update(None, "journal_mode", "WAL")?;
        // WAL + NORMAL: a committed transaction survives a process crash (not always a power cut,
        // where the last transaction may roll back — never a half-written row).
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Take the write lock before reading the version: two processes opening a new file at
        // once must not both run the same migration.
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        }
        tx.commit()
    }

    /// Rows a crash left `sending` go back to `queued`. Call only while holding the send lock:
    /// without it, the row may be a message another process is delivering right now.
    pub fn recover(&self) -> Result<usize> {
        self.conn.execute("UPDATE messages SET state = 'queued' WHERE state = 'sending'", []).map_err(|e| self.err(e))
    }

    fn err(&self, e: rusqlite::Error) -> OutboxError {
        OutboxError { path: self.path.clone(), detail: e.to_string() }
    }

    /// Every commit of this connection reaches the disk before it returns (synchronous = FULL),
    /// also through a power cut: for a message another program hands over, which it deletes
    /// once it hears 250.
    pub fn sync_every_commit(&self) -> Result<()> {
        self.conn.pragma_update(None, "synchronous", "FULL").map_err(|e| self.err(e))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The right to send, for one process at a time (`watch` and a `send` in another terminal
    /// must not both pick the same queued message). `None`: another process is sending.
    pub fn try_send_lock(&self) -> Result<Option<SendLock>> {
        let lock_path = self.path.with_extension("lock");
        let bad = |detail: String| OutboxError { path: lock_path.clone(), detail };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| bad(e.to_string()))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(SendLock(file))),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(bad(e.to_string())),
        }
    }

    /// Stores a built message as `queued`, due at `now`. Returns its id.
    pub fn enqueue(&self, out: &Outgoing, subject: &str, to_display: &str, now: SystemTime) -> Result<i64> {
        self.enqueue_with_draft(out, subject, to_display, None, now)
    }

    /// `enqueue` for a message another program handed over, named by `via` (its EHLO name).
    pub fn enqueue_via(
        &self,
        out: &Outgoing,
        subject: &str,
        to_display: &str,
        via: &str,
        now: SystemTime,
    ) -> Result<i64> {
        self.insert(out, subject, to_display, Kept { via: Some(via), ..Kept::default() }, now)
    }

    /// `enqueue`, keeping the window's draft beside the message (one write).
    pub fn enqueue_with_draft(
        &self,
        out: &Outgoing,
        subject: &str,
        to_display: &str,
        draft: Option<&str>,
        now: SystemTime,
    ) -> Result<i64> {
        self.insert(out, subject, to_display, Kept { draft, ..Kept::default() }, now)
    }

    /// `enqueue_with_draft`, not to be sent before `send_at` (送信予約; `None`: as soon as may
    /// be). Neither 今すぐ送信 nor a forced flush sends it earlier; 「再送」 does (the student asks).
    pub fn enqueue_at(
        &self,
        out: &Outgoing,
        subject: &str,
        to_display: &str,
        draft: Option<&str>,
        send_at: Option<SystemTime>,
        now: SystemTime,
    ) -> Result<i64> {
        self.insert(out, subject, to_display, Kept { draft, send_at, ..Kept::default() }, now)
    }

    /// An earlier copy of `out`: the same Message-ID, envelope and bytes, stored since `since` and
    /// not failed. Its number, and whether it was sent. (A program that did not hear the answer
    /// to its message hands it over again.)
    pub fn earlier_copy(&self, out: &Outgoing, since: SystemTime) -> Result<Option<(i64, bool)>> {
        let rcpts: Vec<String> = out.envelope.to().iter().map(|a| a.to_string()).collect();
        let from = out.envelope.from().map(|a| a.to_string());
        self.conn
            .query_row(
                "SELECT m.id, m.state = 'sent' FROM messages m JOIN bodies b ON b.id = m.id
                 WHERE m.message_id = ?1 AND m.mail_from IS ?2 AND m.rcpts = ?3 AND m.state != 'failed' AND m.created_ms >= ?4 AND b.raw = ?5
                 ORDER BY m.id DESC LIMIT 1",
                params![out.message_id, from, rcpts.join("\n"), ms(since), out.raw],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// One transaction: the row and its bytes, and what is kept beside them.
    fn insert(&self, out: &Outgoing, subject: &str, to_display: &str, kept: Kept<'_>, now: SystemTime) -> Result<i64> {
        let Kept { draft, via, send_at } = kept;
        let first = send_at.filter(|t| *t > now).unwrap_or(now);
        let rcpts: Vec<String> = out.envelope.to().iter().map(|a| a.to_string()).collect();
        let from = out.envelope.from().map(|a| a.to_string());
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        tx.execute(
            "INSERT INTO messages (message_id, mail_from, rcpts, subject, to_display, state, created_ms, next_attempt_ms, draft, via, send_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6, ?7, ?8, ?9, ?10)",
            params![
                out.message_id,
                from,
                rcpts.join("\n"),
                subject,
                to_display,
                ms(now),
                ms(first),
                draft,
                via,
                send_at.map(ms)
            ],
        )
        .map_err(|e| self.err(e))?;
        let id = tx.last_insert_rowid();
        tx.execute("INSERT INTO bodies (id, raw) VALUES (?1, ?2)", params![id, out.raw]).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(id)
    }

    /// The server has taken the message for `delivered` (a transaction of its own, when it takes
    /// only so many recipients at a time): they leave the envelope, so a retry never sends to
    /// them again.
    pub fn remove_recipients(&self, id: i64, delivered: &[String]) -> Result<()> {
        let rcpts: String = self
            .conn
            .query_row("SELECT rcpts FROM messages WHERE id = ?1", [id], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        let gone: std::collections::HashSet<String> = delivered.iter().map(|a| a.to_ascii_lowercase()).collect();
        let left: Vec<&str> = rcpts.lines().filter(|a| !gone.contains(&a.to_ascii_lowercase())).collect();
        self.set("UPDATE messages SET rcpts = ?2 WHERE id = ?1", params![id, left.join("\n")]).map(drop)
    }

    /// Queued messages due at `now`, oldest first, ready to send: as many as fit in `max_bytes`
    /// (at least one, however large), and whether more are due beyond them.
    pub fn due_batch(&self, now: SystemTime, max_bytes: u64) -> Result<(Vec<Due>, bool)> {
        let sizes: Vec<(i64, i64)> = {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT m.id, length(b.raw) FROM messages m JOIN bodies b ON b.id = m.id
                     WHERE m.state = 'queued' AND m.next_attempt_ms <= ?1 ORDER BY m.created_ms, m.id",
                )
                .map_err(|e| self.err(e))?;
            stmt.query_map([ms(now)], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(|e| self.err(e))?
                .collect::<rusqlite::Result<_>>()
                .map_err(|e| self.err(e))?
        };
        let mut total = 0u64;
        let mut take = 0;
        for (_, size) in &sizes {
            let size = u64::try_from(*size).unwrap_or(0);
            if take > 0 && total + size > max_bytes {
                break;
            }
            total += size;
            take += 1;
        }
        let mut out = Vec::with_capacity(take);
        for (id, _) in &sizes[..take] {
            out.extend(self.due_one(*id)?);
        }
        Ok((out, take < sizes.len()))
    }

    /// The due message `id`; `None` when it is gone, or damaged (then set aside as failed, with
    /// the reason, its bytes kept: a row that cannot be sent must not stay due and spin `watch`).
    fn due_one(&self, id: i64) -> Result<Option<Due>> {
        match self
            .conn
            .query_row(&format!("{DUE_SELECT} WHERE m.id = ?1"), [id], due_row)
            .optional()
            .map_err(|e| self.err(e))?
        {
            Some(Ok(due)) => Ok(Some(due)),
            Some(Err(why)) => {
                self.mark_failed(id, &Described::local(Kind::Damaged, why))?;
                Ok(None)
            }
            None => Ok(None),
        }
    }

    /// Every queued message due at `now`, oldest first, ready to send.
    pub fn due(&self, now: SystemTime) -> Result<Vec<Due>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "{DUE_SELECT} WHERE m.state = 'queued' AND m.next_attempt_ms <= ?1 ORDER BY m.created_ms, m.id"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([ms(now)], due_row).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for r in rows {
            out.extend(r.map_err(|e| self.err(e))?.ok());
        }
        Ok(out)
    }

    fn set(&self, sql: &str, p: impl rusqlite::Params) -> Result<bool> {
        self.conn.execute(sql, p).map(|n| n > 0).map_err(|e| self.err(e))
    }

    /// Just before its MAIL FROM. False: the message is no longer waiting (deleted, or taken back
    /// for editing, since it was read as due), so it must not go.
    pub fn mark_sending(&self, id: i64) -> Result<bool> {
        self.set("UPDATE messages SET state = 'sending', attempts = MIN(attempts + 1, 4294967295) WHERE id = ?1 AND state = 'queued'", [id])
    }

    /// Right after the server's 250 for the end of data.
    pub fn mark_sent(&self, id: i64, now: SystemTime) -> Result<()> {
        self.set(
            "UPDATE messages SET state = 'sent', sent_ms = ?2, error_kind = NULL, error_reply = NULL, error_detail = NULL WHERE id = ?1",
            params![id, ms(now)],
        )
        .map(drop)
    }

    pub fn mark_failed(&self, id: i64, e: &Described) -> Result<()> {
        self.set(
            "UPDATE messages SET state = 'failed', error_kind = ?2, error_reply = ?3, error_detail = ?4 WHERE id = ?1",
            params![id, e.kind, e.reply, e.detail],
        )
        .map(drop)
    }

    /// Back to `queued`, next try at `next`. `attempted`: the message itself was tried (its
    /// attempts were counted by `mark_sending`); otherwise count the attempt here.
    pub fn mark_deferred(&self, id: i64, next: SystemTime, e: &Described, attempted: bool) -> Result<()> {
        self.set(
            "UPDATE messages SET state = 'queued', next_attempt_ms = ?2, attempts = MIN(attempts + ?3, 4294967295),
                    error_kind = ?4, error_reply = ?5, error_detail = ?6 WHERE id = ?1",
            params![id, ms(next), if attempted { 0 } else { 1 }, e.kind, e.reply, e.detail],
        )
        .map(drop)
    }

    /// Queued messages waiting because of `kinds` become due at `now` (network came back).
    pub fn wake(&self, kinds: &[Kind], now: SystemTime) -> Result<usize> {
        let mut n = 0;
        for k in kinds {
            n += self
                .conn
                .execute("UPDATE messages SET next_attempt_ms = ?1 WHERE state = 'queued' AND error_kind = ?2 AND next_attempt_ms > ?1", params![ms(now), k])
                .map_err(|e| self.err(e))?;
        }
        Ok(n)
    }

    /// Every queued message becomes due at `now` (the user asked to send).
    pub fn wake_all(&self, now: SystemTime) -> Result<usize> {
        self.conn
            .execute(
                "UPDATE messages SET next_attempt_ms = ?1
                 WHERE state = 'queued' AND next_attempt_ms > ?1 AND (send_at_ms IS NULL OR send_at_ms <= ?1)",
                [ms(now)],
            )
            .map_err(|e| self.err(e))
    }

    /// Whether any queued message last failed with one of `kinds` (e.g. waiting for the network).
    pub fn any_queued_with(&self, kinds: &[Kind]) -> Result<bool> {
        for k in kinds {
            let found = self
                .conn
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM messages WHERE state = 'queued' AND error_kind = ?1)",
                    [k],
                    |r| r.get::<_, bool>(0),
                )
                .map_err(|e| self.err(e))?;
            if found {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// A failed or queued message becomes due now (the user's 「再送」).
    pub fn retry(&self, id: i64, now: SystemTime) -> Result<bool> {
        self.set(
            "UPDATE messages SET state = 'queued', next_attempt_ms = ?2, send_at_ms = MIN(send_at_ms, ?2),
             created_ms = CASE WHEN state = 'failed' THEN ?2 ELSE created_ms END
             WHERE id = ?1 AND state IN ('queued', 'failed')",
            params![id, ms(now)],
        )
    }

    pub fn delete(&self, id: i64) -> Result<bool> {
        self.set("DELETE FROM messages WHERE id = ?1 AND state != 'sending'", [id])
    }

    /// 「編集」: removes a waiting message and returns its draft, in one transaction. `None` when
    /// it is being sent, already gone, or has no draft (queued from the command line).
    pub fn take_draft(&self, id: i64) -> Result<Option<(String, Option<SystemTime>)>> {
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        let found: Option<(Option<String>, Option<i64>)> = tx
            .query_row(
                "SELECT draft, send_at_ms FROM messages WHERE id = ?1 AND state IN ('queued', 'failed')",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        // With its 送信予約 time, so 作成 offers it again.
        let taken = found.and_then(|(draft, at)| draft.map(|d| (d, at.map(time))));
        if taken.is_some() {
            tx.execute("DELETE FROM messages WHERE id = ?1", [id]).map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(taken)
    }

    /// The window's draft stored with a message (for the read-only view of 送信済み).
    pub fn draft_of(&self, id: i64) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT draft FROM messages WHERE id = ?1", [id], |r| r.get(0))
            .optional()
            .map(Option::flatten)
            .map_err(|e| self.err(e))
    }

    pub fn get(&self, id: i64) -> Result<Option<(Row, Vec<u8>)>> {
        self.conn
            .query_row(
                &format!("SELECT {ROW_COLUMNS}, (SELECT raw FROM bodies WHERE bodies.id = messages.id) FROM messages WHERE id = ?1"),
                [id],
                |r| Ok((row(r)?, r.get::<_, Option<Vec<u8>>>(ROW_COLUMN_COUNT)?.unwrap_or_default())),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Rows in the given states, newest first, at most `limit`.
    pub fn list(&self, states: &[Status], limit: usize) -> Result<Vec<Row>> {
        let marks = states.iter().map(|s| format!("'{}'", s.code())).collect::<Vec<_>>().join(",");
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {ROW_COLUMNS} FROM messages WHERE state IN ({marks}) ORDER BY created_ms DESC, id DESC LIMIT ?1"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([limit as i64], row).map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }

    pub fn counts(&self) -> Result<Counts> {
        let mut c = Counts::default();
        let mut stmt =
            self.conn.prepare("SELECT state, COUNT(*) FROM messages GROUP BY state").map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as usize)))
            .map_err(|e| self.err(e))?;
        for r in rows {
            let (state, n) = r.map_err(|e| self.err(e))?;
            match Status::parse(&state) {
                Status::Queued => c.queued = n,
                Status::Sending => c.sending = n,
                Status::Sent => c.sent = n,
                Status::Failed => c.failed = n,
            }
        }
        Ok(c)
    }

    /// Queued messages due at `now` (not those timed or backing off for later).
    pub fn count_due(&self, now: SystemTime) -> Result<usize> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM messages WHERE state = 'queued' AND next_attempt_ms <= ?1",
                [ms(now)],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| usize::try_from(n).unwrap_or(0))
            .map_err(|e| self.err(e))
    }

    /// When the next queued message is due.
    pub fn next_due(&self) -> Result<Option<SystemTime>> {
        self.conn
            .query_row("SELECT MIN(next_attempt_ms) FROM messages WHERE state = 'queued'", [], |r| {
                r.get::<_, Option<i64>>(0)
            })
            .map(|v| v.map(time))
            .map_err(|e| self.err(e))
    }

    /// Queued messages created (or, timed, due) before `cutoff` fail with `e` (too old to keep
    /// trying).
    pub fn expire(&self, cutoff: SystemTime, e: &Described) -> Result<usize> {
        self.conn
            .execute(
                "UPDATE messages SET state = 'failed', error_kind = ?2, error_reply = ?3, error_detail = ?4
                 WHERE state = 'queued' AND MAX(created_ms, COALESCE(send_at_ms, 0)) < ?1",
                params![ms(cutoff), e.kind, e.reply, e.detail],
            )
            .map_err(|e| self.err(e))
    }

    pub fn pause(&self, p: &Pause) -> Result<()> {
        let value = format!(
            "{}\u{1f}{}\u{1f}{}\u{1f}{}",
            p.config,
            p.error.kind.code(),
            p.error.reply.as_deref().unwrap_or(""),
            p.error.detail
        );
        self.set("INSERT OR REPLACE INTO meta (key, value) VALUES ('pause', ?1)", [value]).map(drop)
    }

    pub fn paused(&self) -> Result<Option<Pause>> {
        let v: Option<String> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'pause'", [], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(v.map(|v| {
            let mut parts = v.splitn(4, '\u{1f}');
            let config = parts.next().unwrap_or("").to_owned();
            let kind = Kind::from_code(parts.next().unwrap_or(""));
            let reply = parts.next().filter(|r| !r.is_empty()).map(str::to_owned);
            let detail = parts.next().unwrap_or("").to_owned();
            Pause { error: Described { kind, reply, detail }, config }
        }))
    }

    pub fn resume(&self) -> Result<()> {
        self.set("DELETE FROM meta WHERE key = 'pause'", []).map(drop)
    }
}

/// Takes group and other permissions off an existing file (an outbox from before 0600, or one
/// copied in with a loose mode). A missing file is fine.
fn make_private(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        match std::fs::metadata(path) {
            Ok(m) if m.permissions().mode() & 0o077 != 0 => {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(m.permissions().mode() & 0o700))?;
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Creates the file with mode 0600 (on Unix) if it does not exist; SQLite gives its WAL and
/// shared-memory files the same mode.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        o.mode(0o600);
    }
    o.open(path).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::compose::{self, Draft};

    fn t(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000 + s)
    }

    fn out(to: &str) -> Outgoing {
        let d = Draft {
            from_address: "a@example.ac.jp".into(),
            to: vec![to.into()],
            subject: "件名".into(),
            ..Draft::default()
        };
        compose::build(&d, t(0)).unwrap()
    }

    fn err(kind: &str) -> Described {
        Described { kind: Kind::from_code(kind), reply: Some("454 4.7.1 no".into()), detail: "d".into() }
    }

    /// 送信予約: a timed message is not due before its time — not even when every message is
    /// woken (今すぐ送信) — is due at it, and is not expired by waiting for it; 「再送」 sends it now.
    #[test]
    fn a_timed_message_waits_for_its_time_even_when_forced() {
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let at = now + Duration::from_secs(6 * 86_400);
        let id = ob.enqueue_at(&out("b@example.net"), "s", "t", None, Some(at), now).unwrap();
        assert_eq!(ob.get(id).unwrap().unwrap().0.send_at, Some(at));
        assert!(ob.due(now).unwrap().is_empty());
        assert_eq!(ob.count_due(now).unwrap(), 0, "a timed message counted as due");
        assert_eq!(ob.count_due(at).unwrap(), 1, "not counted at its time");
        ob.wake_all(now).unwrap();
        assert!(ob.due(now).unwrap().is_empty(), "今すぐ送信 sent a timed message early");
        assert_eq!(ob.next_due().unwrap(), Some(at), "the engine would not wake for it");
        let later = at - Duration::from_secs(1);
        assert_eq!(
            ob.expire(later - Duration::from_secs(5 * 86_400), &Described::local(Kind::Expired, "old")).unwrap(),
            0
        );
        assert!(ob.due(later).unwrap().is_empty());
        assert_eq!(ob.due(at).unwrap().len(), 1, "not due at its time");
        // 再送 on the fifth day of waiting: it goes now, and is not expired for its age.
        let day5 = now + Duration::from_secs(5 * 86_400 + 3600);
        assert!(ob.retry(id, day5).unwrap());
        assert_eq!(ob.get(id).unwrap().unwrap().0.send_at, Some(day5));
        assert_eq!(
            ob.expire(day5 - Duration::from_secs(5 * 86_400), &Described::local(Kind::Expired, "old")).unwrap(),
            0
        );
        assert_eq!(ob.due(day5).unwrap().len(), 1, "再送 did not send it now");
        // 編集 of a timed message gives its time back with its draft.
        let timed = ob.enqueue_at(&out("c@example.net"), "s", "t", Some("subject = \"s\"\n"), Some(at), now).unwrap();
        assert_eq!(ob.take_draft(timed).unwrap(), Some(("subject = \"s\"\n".to_owned(), Some(at))));
    }

    #[test]
    fn every_transition() {
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        let id = ob.enqueue(&out("b@example.net"), "件名", "b@example.net", t(0)).unwrap();
        assert_eq!(ob.counts().unwrap(), Counts { queued: 1, ..Counts::default() });
        let due = ob.due(t(0)).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].outgoing.envelope.to()[0].to_string(), "b@example.net");

        ob.mark_sending(id).unwrap();
        assert!(ob.due(t(0)).unwrap().is_empty(), "a message being sent is not due");
        ob.mark_deferred(id, t(60), &err("offline"), true).unwrap();
        let (r, _) = ob.get(id).unwrap().unwrap();
        assert_eq!((r.state, r.attempts, r.next_attempt), (Status::Queued, 1, t(60)));
        assert_eq!(r.last_error.unwrap().reply.as_deref(), Some("454 4.7.1 no"));
        assert!(ob.due(t(59)).unwrap().is_empty());
        assert_eq!(ob.next_due().unwrap(), Some(t(60)));

        // Deferred without being tried (the run stopped earlier): the attempt still counts.
        ob.mark_deferred(id, t(120), &err("relay-denied"), false).unwrap();
        assert_eq!(ob.get(id).unwrap().unwrap().0.attempts, 2);
        assert!(ob.any_queued_with(&[Kind::Offline, Kind::RelayDenied]).unwrap());
        assert!(!ob.any_queued_with(&[Kind::Offline]).unwrap());
        assert_eq!(ob.wake(&[Kind::RelayDenied], t(70)).unwrap(), 1);
        assert_eq!(ob.due(t(70)).unwrap().len(), 1);

        ob.mark_sending(id).unwrap();
        ob.mark_sent(id, t(80)).unwrap();
        let (r, raw) = ob.get(id).unwrap().unwrap();
        assert_eq!((r.state, r.sent_at, r.last_error), (Status::Sent, Some(t(80)), None));
        assert!(!raw.is_empty());
        assert_eq!(ob.list(&[Status::Sent], 10).unwrap().len(), 1);
        assert!(!ob.retry(id, t(90)).unwrap(), "a sent message is not re-queued");

        let id2 = ob.enqueue(&out("c@example.net"), "s", "c@example.net", t(1)).unwrap();
        ob.mark_failed(id2, &err("recipient")).unwrap();
        assert_eq!(ob.counts().unwrap().failed, 1);
        assert!(ob.retry(id2, t(100)).unwrap());
        assert_eq!(ob.due(t(100)).unwrap().len(), 1);
        assert!(ob.delete(id2).unwrap());
        assert!(ob.get(id2).unwrap().is_none());
    }

    /// Issue 11: a row that no longer reads as a message (a recipient damaged on disk, a field of
    /// the wrong type) is set aside as failed with the reason and its bytes kept, so it is not
    /// due again: before, it stayed queued and due, every flush skipped it, and `watch` spun.
    #[test]
    fn a_damaged_row_is_set_aside_not_due_again() {
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        let bad_rcpt = ob.enqueue(&out("b@example.net"), "壊れた宛先", "b@example.net", t(0)).unwrap();
        let bad_field = ob.enqueue(&out("c@example.net"), "壊れた欄", "c@example.net", t(0)).unwrap();
        let good = ob.enqueue(&out("d@example.net"), "正常", "d@example.net", t(0)).unwrap();
        ob.conn.execute("UPDATE messages SET rcpts = 'not an address' WHERE id = ?1", [bad_rcpt]).unwrap();
        ob.conn.execute("UPDATE messages SET attempts = 'many' WHERE id = ?1", [bad_field]).unwrap();
        let raw_before =
            ob.conn.query_row("SELECT raw FROM bodies WHERE id = ?1", [bad_rcpt], |r| r.get::<_, Vec<u8>>(0)).unwrap();

        let (due, more) = ob.due_batch(t(0), u64::MAX).unwrap();
        assert_eq!(due.iter().map(|d| d.id).collect::<Vec<_>>(), vec![good]);
        assert!(!more);
        for (id, what) in [(bad_rcpt, "recipient"), (bad_field, "field")] {
            let state: String =
                ob.conn.query_row("SELECT state FROM messages WHERE id = ?1", [id], |r| r.get(0)).unwrap();
            assert_eq!(state, "failed", "{what}");
            let (kind, detail): (Kind, String) = ob
                .conn
                .query_row("SELECT error_kind, error_detail FROM messages WHERE id = ?1", [id], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .unwrap();
            assert_eq!(kind, Kind::Damaged, "{what}");
            assert!(detail.contains(what), "{detail}");
        }
        let raw_after =
            ob.conn.query_row("SELECT raw FROM bodies WHERE id = ?1", [bad_rcpt], |r| r.get::<_, Vec<u8>>(0)).unwrap();
        assert_eq!(raw_before, raw_after, "the damaged message's bytes are kept");
        // Nothing damaged is due any more: the good one is all that waits.
        ob.mark_sending(good).unwrap();
        ob.mark_sent(good, t(1)).unwrap();
        assert_eq!(ob.next_due().unwrap(), None);
    }

    /// Issue 13: a message another program handed over keeps the program's name; the window's own do not.
    #[test]
    fn a_handed_message_names_its_program() {
        assert_eq!(ROW_COLUMNS.split(',').count(), ROW_COLUMN_COUNT);
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        let handed = ob.enqueue_via(&out("b@example.net"), "s", "b", "thunderbird.local", t(0)).unwrap();
        let own = ob.enqueue(&out("c@example.net"), "s", "c", t(0)).unwrap();
        let (row, raw) = ob.get(handed).unwrap().unwrap();
        assert_eq!(row.via.as_deref(), Some("thunderbird.local"));
        assert!(!raw.is_empty());
        assert_eq!(ob.get(own).unwrap().unwrap().0.via, None);
        let listed = ob.list(&[Status::Queued], 10).unwrap();
        assert!(listed.iter().any(|r| r.via.as_deref() == Some("thunderbird.local")));
    }

    /// Issue 9, case 6: a damaged attempt count cannot overflow into a row that no longer reads.
    #[test]
    fn attempt_counts_stay_in_range() {
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        let id = ob.enqueue(&out("b@example.net"), "s", "b", t(0)).unwrap();
        ob.conn.execute("UPDATE messages SET attempts = 4294967295 WHERE id = ?1", [id]).unwrap();
        ob.mark_sending(id).unwrap();
        ob.mark_deferred(id, t(0), &err("offline"), false).unwrap();
        let due = ob.due(t(1)).unwrap();
        assert_eq!(due[0].attempts, u32::MAX);
        let _ = crate::sending::retry::backoff(due[0].attempts.saturating_add(1), 7);
    }

    /// The migration that moved the bytes to `bodies` keeps every message of an older file.
    #[test]
    fn an_older_outbox_keeps_its_messages_through_the_bodies_migration() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        {
            // A file as version 3 left it: the bytes in `messages.raw`.
            let conn = Connection::open(&path).unwrap();
            for sql in &MIGRATIONS[..3] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 3).unwrap();
            conn.execute(
                "INSERT INTO messages (message_id, mail_from, rcpts, subject, to_display, raw, state, created_ms, next_attempt_ms)
                 VALUES ('<m@x>', 'a@example.ac.jp', 'b@example.net', 's', 'b', x'0102030405', 'queued', 1, 1)",
                [],
            )
            .unwrap();
        }
        let ob = Outbox::open(dir.path()).unwrap();
        let (row, raw) = ob.get(1).unwrap().unwrap();
        assert_eq!((row.state, raw), (Status::Queued, vec![1, 2, 3, 4, 5]));
        assert_eq!(ob.due(t(0)).unwrap()[0].outgoing.raw, vec![1, 2, 3, 4, 5]);
        assert!(ob.delete(1).unwrap());
        let left: i64 = ob.conn.query_row("SELECT COUNT(*) FROM bodies", [], |r| r.get(0)).unwrap();
        assert_eq!(left, 0, "a deleted message's bytes stay behind");
    }

    /// Beyond issue 9's list: a flush used to load every due message's bytes at once (and copy
    /// them); batches bound what one run holds.
    #[test]
    fn due_batches_are_bounded_in_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        let ids: Vec<i64> =
            (0..5).map(|i| ob.enqueue(&out(&format!("b{i}@example.net")), "s", "b", t(i)).unwrap()).collect();
        let size = ob.get(ids[0]).unwrap().unwrap().1.len() as u64;
        let (batch, more) = ob.due_batch(t(10), size * 2 + size / 2).unwrap();
        assert_eq!(batch.iter().map(|d| d.id).collect::<Vec<_>>(), ids[..2].to_vec());
        assert!(more);
        // At least one, however small the budget.
        let (batch, more) = ob.due_batch(t(10), 1).unwrap();
        assert_eq!((batch.len(), more), (1, true));
        let (batch, more) = ob.due_batch(t(10), u64::MAX).unwrap();
        assert_eq!((batch.len(), more), (5, false));
        assert_eq!(batch[4].outgoing.raw, ob.get(ids[4]).unwrap().unwrap().1);
    }

    #[test]
    fn many_processes_may_open_a_new_file_at_once() {
        // A race: without the write lock around the migration it fails about one round in three.
        for _ in 0..10 {
            let dir = tempfile::tempdir().unwrap();
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    let p = dir.path().to_owned();
                    std::thread::spawn(move || Outbox::open(&p).map(|_| ()).map_err(|e| e.to_string()))
                })
                .collect();
            for t in threads {
                t.join().unwrap().unwrap();
            }
        }
    }

    #[test]
    fn one_sender_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let a = Outbox::open(dir.path()).unwrap();
        let b = Outbox::open(dir.path()).unwrap();
        let held = a.try_send_lock().unwrap().expect("free at first");
        assert!(b.try_send_lock().unwrap().is_none(), "a second sender got the lock");
        drop(held);
        assert!(b.try_send_lock().unwrap().is_some());
    }

    #[test]
    fn a_crash_while_sending_requeues_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let id = {
            let ob = Outbox::open(dir.path()).unwrap();
            let id = ob.enqueue(&out("b@example.net"), "s", "b", t(0)).unwrap();
            ob.mark_sending(id).unwrap();
            id
        };
        let ob = Outbox::open(dir.path()).unwrap();
        assert_eq!(ob.get(id).unwrap().unwrap().0.state, Status::Queued);
        assert_eq!(ob.due(t(0)).unwrap().len(), 1);
    }

    #[test]
    fn expiry_and_pause() {
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        ob.enqueue(&out("b@example.net"), "old", "b", t(0)).unwrap();
        ob.enqueue(&out("c@example.net"), "new", "c", t(100)).unwrap();
        assert_eq!(ob.expire(t(50), &err("expired")).unwrap(), 1);
        assert_eq!(ob.counts().unwrap(), Counts { queued: 1, failed: 1, ..Counts::default() });

        assert_eq!(ob.paused().unwrap(), None);
        let p = Pause { error: err("wrong-password"), config: "abc".into() };
        ob.pause(&p).unwrap();
        assert_eq!(ob.paused().unwrap(), Some(p));
        ob.resume().unwrap();
        assert_eq!(ob.paused().unwrap(), None);
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_private_and_wal() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        ob.enqueue(&out("b@example.net"), "s", "b", t(0)).unwrap();
        let mode = std::fs::metadata(ob.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let jm: String = ob.conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
        assert_eq!(jm, "wal");
        let v: i64 = ob.conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
    }
}
