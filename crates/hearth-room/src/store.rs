//! Chat history storage.
//!
//! The core reads and writes history through [`Store`], synchronously, from the one task
//! that owns it. The server implements it on SQLite; [`MemoryStore`] serves tests and
//! servers without a data directory.

/// A message as stored: one row per message, the same for every receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Assigned by the store on insert; grows with time.
    pub id: u64,
    /// Room name.
    pub room: String,
    /// Conversation key: `#<channel id>` for a channel, `@<a>\n<b>` (lower-cased names,
    /// sorted) for a direct message.
    pub conv: String,
    /// For direct messages, the recipient's name as typed when sent.
    pub dm_to: Option<String>,
    /// Client-chosen id.
    pub client_id: String,
    /// Author name.
    pub author: String,
    /// Text.
    pub text: String,
    /// Replied-to message.
    pub reply_to: Option<u64>,
    /// Image MIME type and bytes.
    pub image: Option<(String, Vec<u8>)>,
    /// Stored at, in Unix milliseconds.
    pub ts: u64,
    /// Last edit, in Unix milliseconds.
    pub edited_ts: Option<u64>,
    /// Deleted.
    pub deleted: bool,
    /// Reactions in first-added order: emoji and reactor names.
    pub reactions: Vec<(String, Vec<String>)>,
}

/// A storage failure. The core answers it with an `internal` error and stores nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("storage: {0}")]
pub struct StoreError(pub String);

/// History storage.
pub trait Store {
    /// Stores a new message, assigning its id (the `id` field given is ignored), and returns
    /// the id. Must be durable when it returns.
    fn insert(&mut self, msg: &StoredMessage) -> Result<u64, StoreError>;
    /// Replaces the mutable parts (text, image, edited_ts, deleted, reactions) of a stored
    /// message.
    fn update(&mut self, msg: &StoredMessage) -> Result<(), StoreError>;
    /// One message by id within a room.
    fn get(&self, room: &str, id: u64) -> Result<Option<StoredMessage>, StoreError>;
    /// The message an author sent with a client id, if any (author compared lower-cased).
    fn by_client_id(
        &self,
        room: &str,
        author: &str,
        client_id: &str,
    ) -> Result<Option<StoredMessage>, StoreError>;
    /// Up to `limit` messages of a conversation with id below `before`, newest first, and
    /// whether older ones exist.
    fn page(
        &self,
        room: &str,
        conv: &str,
        before: Option<u64>,
        limit: u32,
    ) -> Result<(Vec<StoredMessage>, bool), StoreError>;
}

/// History kept in memory, lost when the process ends.
#[derive(Debug, Default)]
pub struct MemoryStore {
    messages: Vec<StoredMessage>,
}

impl Store for MemoryStore {
    fn insert(&mut self, msg: &StoredMessage) -> Result<u64, StoreError> {
        let id = self.messages.len() as u64 + 1;
        self.messages.push(StoredMessage { id, ..msg.clone() });
        Ok(id)
    }

    fn update(&mut self, msg: &StoredMessage) -> Result<(), StoreError> {
        let slot = msg
            .id
            .checked_sub(1)
            .and_then(|i| self.messages.get_mut(i as usize))
            .ok_or_else(|| StoreError(format!("no message {}", msg.id)))?;
        *slot = msg.clone();
        Ok(())
    }

    fn get(&self, room: &str, id: u64) -> Result<Option<StoredMessage>, StoreError> {
        let found = id.checked_sub(1).and_then(|i| self.messages.get(i as usize));
        Ok(found.filter(|m| m.room == room).cloned())
    }

    fn by_client_id(
        &self,
        room: &str,
        author: &str,
        client_id: &str,
    ) -> Result<Option<StoredMessage>, StoreError> {
        let author = author.to_lowercase();
        Ok(self
            .messages
            .iter()
            .rev()
            .find(|m| m.room == room && m.client_id == client_id && m.author.to_lowercase() == author)
            .cloned())
    }

    fn page(
        &self,
        room: &str,
        conv: &str,
        before: Option<u64>,
        limit: u32,
    ) -> Result<(Vec<StoredMessage>, bool), StoreError> {
        let mut older = self
            .messages
            .iter()
            .rev()
            .filter(|m| m.room == room && m.conv == conv && before.is_none_or(|b| m.id < b));
        let page: Vec<_> = older.by_ref().take(limit as usize).cloned().collect();
        let has_more = older.next().is_some();
        Ok((page, has_more))
    }
}
