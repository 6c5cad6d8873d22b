//! Feed cursors (`?before=` on every paginated page): decoding never panics,
//! anything accepted is canonical (it encodes back to the same text), and
//! every valid cursor survives encode → decode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use masthead_domain::FeedCursor;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(cursor) = FeedCursor::decode(text)
    {
        assert_eq!(cursor.encode(), text, "an accepted cursor is canonical");
        assert!(cursor.id > 0, "{cursor:?}");
    }
    // The same bytes read as a cursor value (a time since 1970 and a positive
    // id, as every stored post has): the encoder's output always decodes.
    if let Some(pair) = data.get(..16) {
        let (ms, id) = pair.split_at(8);
        let cursor = FeedCursor {
            published_ms: i64::from_le_bytes(ms.try_into().expect("8 bytes")) & i64::MAX,
            id: (i64::from_le_bytes(id.try_into().expect("8 bytes")) & i64::MAX).max(1),
        };
        assert_eq!(FeedCursor::decode(&cursor.encode()), Ok(cursor));
    }
});
