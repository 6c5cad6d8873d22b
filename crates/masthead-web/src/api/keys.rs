//! API keys in Ghost's formats: content keys are 26 hex characters; admin
//! keys are `id:secret`, 24 and 64 hex characters (Ghost's clients check the
//! shapes before sending anything).

use std::collections::HashMap;
use std::sync::Mutex;

use masthead_store::{ApiKeyKind, now_ms};

use crate::state::AppState;

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    if getrandom::fill(&mut b).is_err() {
        // Never hand out a guessable key.
        panic!("the operating system's random number generator is unavailable");
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A new content key: 26 hex characters.
pub fn new_content_key() -> String {
    let mut k = random_hex(13);
    k.truncate(26);
    k
}

/// A new admin key: `(id, secret)`, 24 and 64 hex characters.
pub fn new_admin_key() -> (String, String) {
    (random_hex(12), random_hex(32))
}

pub fn is_content_key(s: &str) -> bool {
    s.len() == 26 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Creates a key; returns what to give the integration (`key` or `id:secret`).
pub async fn create(
    store: &masthead_store::Store,
    kind: ApiKeyKind,
    name: String,
    created_by: Option<i64>,
) -> masthead_store::StoreResult<String> {
    let (key_id, secret) = match kind {
        ApiKeyKind::Admin => {
            let (id, secret) = new_admin_key();
            (id, Some(secret))
        }
        ApiKeyKind::Content => (new_content_key(), None),
    };
    let shown = match &secret {
        Some(s) => format!("{key_id}:{s}"),
        None => key_id.clone(),
    };
    store
        .insert_api_key(kind, name, key_id, secret, created_by, now_ms())
        .await?;
    Ok(shown)
}

/// When each key was last recorded as used: so that use is written at most
/// once a minute per key, not on every request.
static TOUCHED: Mutex<Option<HashMap<i64, i64>>> = Mutex::new(None);

pub async fn touch(state: &AppState, key_row: i64) {
    let now = now_ms();
    {
        let mut guard = TOUCHED.lock().unwrap_or_else(|p| p.into_inner());
        let map = guard.get_or_insert_with(HashMap::new);
        match map.get(&key_row) {
            Some(&at) if now - at < 60_000 => return,
            _ => {
                map.insert(key_row, now);
            }
        }
    }
    if let Err(e) = state.store.touch_api_key(key_row, now).await {
        tracing::warn!(error = %e, "could not record API key use");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_ghosts_shapes() {
        let k = new_content_key();
        assert!(is_content_key(&k), "{k}");
        let (id, secret) = new_admin_key();
        assert_eq!(id.len(), 24);
        assert_eq!(secret.len(), 64);
        assert!(
            id.bytes()
                .chain(secret.bytes())
                .all(|b| b.is_ascii_hexdigit())
        );
        assert_ne!(new_content_key(), new_content_key());
    }
}
