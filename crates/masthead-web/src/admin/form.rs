//! A desk form as posted, read by hand: several desk forms repeat a field
//! (`newsletter=1&newsletter=2`, one `benefit` per line), which serde's form
//! reader does not take. Reading one checks its CSRF token, so no handler
//! can forget it.

use axum::response::Response;

use super::Staff;

/// The fields of a posted desk form, in order, every value a string.
pub struct DeskForm(Vec<(String, String)>);

impl DeskForm {
    /// Reads `body` and checks its `csrf` field against `staff`'s session.
    pub fn read(staff: &Staff, body: &[u8]) -> Result<DeskForm, Box<Response>> {
        let f = DeskForm(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        );
        staff.check_csrf(f.get("csrf"))?;
        Ok(f)
    }

    /// The first value of `key`; empty when absent.
    pub fn get(&self, key: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Whether `key` was sent at all (an unchecked box is not).
    pub fn has(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    /// Every value of `key`, in order.
    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}
