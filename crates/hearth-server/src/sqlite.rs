//! Chat history in SQLite: the room core's [`Store`] on disk.
//!
//! The database runs in WAL mode with `synchronous = NORMAL`: a committed message survives a
//! crash or restart of the process; only a power loss can lose the last few commits. Every
//! write is its own transaction and returns after the commit, which is what lets the core
//! treat a delivered `chat` as an acknowledgement.

use std::path::Path;

use hearth_room::{Store, StoreError, StoredMessage};
use rusqlite::{Connection, OptionalExtension, Row, params};

/// History in one SQLite file (or in memory).
pub struct SqliteStore {
    db: Connection,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    room        TEXT    NOT NULL,
    conv        TEXT    NOT NULL,
    dm_to       TEXT,
    client_id   TEXT    NOT NULL,
    author      TEXT    NOT NULL,
    author_key  TEXT    NOT NULL,
    text        TEXT    NOT NULL,
    reply_to    INTEGER,
    image_mime  TEXT,
    image       BLOB,
    ts          INTEGER NOT NULL,
    edited_ts   INTEGER,
    deleted     INTEGER NOT NULL DEFAULT 0,
    reactions   TEXT    NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS messages_by_conv ON messages (room, conv, id);
CREATE UNIQUE INDEX IF NOT EXISTS messages_by_client_id ON messages (room, author_key, client_id);
";

const COLUMNS: &str = "id, room, conv, dm_to, client_id, author, text, reply_to, image_mime, image, ts, edited_ts, deleted, reactions";

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

impl SqliteStore {
    /// Opens (creating if needed) `history.sqlite3` in `dir`, or an in-memory database when
    /// `dir` is `None`.
    pub fn open(dir: Option<&Path>) -> Result<SqliteStore, StoreError> {
        let db = match dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StoreError(format!("cannot create {}: {e}", dir.display())))?;
                Connection::open(dir.join("history.sqlite3")).map_err(err)?
            }
            None => Connection::open_in_memory().map_err(err)?,
        };
        db.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        db.pragma_update(None, "synchronous", "NORMAL").map_err(err)?;
        db.execute_batch(SCHEMA).map_err(err)?;
        Ok(SqliteStore { db })
    }

    /// Moves the write-ahead log into the main file so the data directory is self-contained.
    pub fn checkpoint(&mut self) -> Result<(), StoreError> {
        self.db.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).map_err(err)
    }

    fn row(r: &Row<'_>) -> rusqlite::Result<StoredMessage> {
        let mime: Option<String> = r.get(8)?;
        let bytes: Option<Vec<u8>> = r.get(9)?;
        let reactions: String = r.get(13)?;
        Ok(StoredMessage {
            id: r.get::<_, i64>(0)? as u64,
            room: r.get(1)?,
            conv: r.get(2)?,
            dm_to: r.get(3)?,
            client_id: r.get(4)?,
            author: r.get(5)?,
            text: r.get(6)?,
            reply_to: r.get::<_, Option<i64>>(7)?.map(|v| v as u64),
            image: mime.zip(bytes),
            ts: r.get::<_, i64>(10)? as u64,
            edited_ts: r.get::<_, Option<i64>>(11)?.map(|v| v as u64),
            deleted: r.get(12)?,
            // A row this server wrote always parses; an edited file degrades to no reactions.
            reactions: serde_json::from_str(&reactions).unwrap_or_default(),
        })
    }
}

/// SQLite stores signed 64-bit integers; ids and timestamps stay far below that.
fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Store for SqliteStore {
    fn insert(&mut self, m: &StoredMessage) -> Result<u64, StoreError> {
        let (mime, bytes) = match &m.image {
            Some((mime, bytes)) => (Some(mime.as_str()), Some(bytes.as_slice())),
            None => (None, None),
        };
        let reactions = serde_json::to_string(&m.reactions).map_err(err)?;
        self.db
            .prepare_cached(
                "INSERT INTO messages (room, conv, dm_to, client_id, author, author_key, text, reply_to,
                 image_mime, image, ts, edited_ts, deleted, reactions)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )
            .and_then(|mut st| {
                st.execute(params![
                    m.room,
                    m.conv,
                    m.dm_to,
                    m.client_id,
                    m.author,
                    m.author.to_lowercase(),
                    m.text,
                    m.reply_to.map(int),
                    mime,
                    bytes,
                    int(m.ts),
                    m.edited_ts.map(int),
                    m.deleted,
                    reactions,
                ])
            })
            .map_err(err)?;
        Ok(self.db.last_insert_rowid() as u64)
    }

    fn update(&mut self, m: &StoredMessage) -> Result<(), StoreError> {
        let (mime, bytes) = match &m.image {
            Some((mime, bytes)) => (Some(mime.as_str()), Some(bytes.as_slice())),
            None => (None, None),
        };
        let reactions = serde_json::to_string(&m.reactions).map_err(err)?;
        let changed = self
            .db
            .prepare_cached(
                "UPDATE messages SET text = ?2, image_mime = ?3, image = ?4, edited_ts = ?5,
                 deleted = ?6, reactions = ?7 WHERE id = ?1",
            )
            .and_then(|mut st| {
                st.execute(params![int(m.id), m.text, mime, bytes, m.edited_ts.map(int), m.deleted, reactions])
            })
            .map_err(err)?;
        if changed != 1 {
            return Err(StoreError(format!("no message {}", m.id)));
        }
        Ok(())
    }

    fn get(&self, room: &str, id: u64) -> Result<Option<StoredMessage>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM messages WHERE id = ?1 AND room = ?2");
        self.db
            .prepare_cached(&sql)
            .and_then(|mut st| st.query_row(params![int(id), room], Self::row).optional())
            .map_err(err)
    }

    fn by_client_id(
        &self,
        room: &str,
        author: &str,
        client_id: &str,
    ) -> Result<Option<StoredMessage>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM messages WHERE room = ?1 AND author_key = ?2 AND client_id = ?3"
        );
        self.db
            .prepare_cached(&sql)
            .and_then(|mut st| {
                st.query_row(params![room, author.to_lowercase(), client_id], Self::row).optional()
            })
            .map_err(err)
    }

    fn page(
        &self,
        room: &str,
        conv: &str,
        before: Option<u64>,
        limit: u32,
    ) -> Result<(Vec<StoredMessage>, bool), StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM messages WHERE room = ?1 AND conv = ?2 AND id < ?3
             ORDER BY id DESC LIMIT ?4"
        );
        let before = before.map_or(i64::MAX, int);
        // One extra row tells whether older messages exist.
        let mut rows: Vec<StoredMessage> = self
            .db
            .prepare_cached(&sql)
            .and_then(|mut st| {
                st.query_map(params![room, conv, before, i64::from(limit) + 1], Self::row)?
                    .collect()
            })
            .map_err(err)?;
        let has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        Ok((rows, has_more))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(conv: &str, client_id: &str) -> StoredMessage {
        StoredMessage {
            id: 0,
            room: "lobby".into(),
            conv: conv.into(),
            dm_to: None,
            client_id: client_id.into(),
            author: "Alice".into(),
            text: "hi".into(),
            reply_to: None,
            image: Some(("image/png".into(), vec![1, 2, 3])),
            ts: 5,
            edited_ts: None,
            deleted: false,
            reactions: vec![("👍".into(), vec!["bob".into()])],
        }
    }

    #[test]
    fn round_trip_paging_and_dedup_index() {
        let mut s = SqliteStore::open(None).unwrap();
        for i in 0..5 {
            s.insert(&msg("#general", &format!("c{i}"))).unwrap();
        }
        s.insert(&msg("#other", "c9")).unwrap();
        let (page, more) = s.page("lobby", "#general", None, 2).unwrap();
        assert_eq!(page.iter().map(|m| m.id).collect::<Vec<_>>(), vec![5, 4]);
        assert!(more);
        let (page, more) = s.page("lobby", "#general", Some(3), 5).unwrap();
        assert_eq!(page.iter().map(|m| m.id).collect::<Vec<_>>(), vec![2, 1]);
        assert!(!more);
        let found = s.by_client_id("lobby", "ALICE", "c3").unwrap().unwrap();
        assert_eq!(found.id, 4);
        assert_eq!(found.image, Some(("image/png".into(), vec![1, 2, 3])));
        assert_eq!(found.reactions, vec![("👍".to_string(), vec!["bob".to_string()])]);
        // The unique index refuses a second row with the same author and client id.
        assert!(s.insert(&msg("#general", "c3")).is_err());
        let mut edited = found;
        edited.text = "changed".into();
        edited.deleted = true;
        s.update(&edited).unwrap();
        assert_eq!(s.get("lobby", 4).unwrap().unwrap().text, "changed");
        assert!(s.get("elsewhere", 4).unwrap().is_none());
    }
}
