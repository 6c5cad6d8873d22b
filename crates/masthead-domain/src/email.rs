//! E-mail addresses as members type them.

use crate::DomainError;

/// A plausible, deliverable-looking address. `key` is the lowercase form used
/// to find duplicates: `Ana@Example.org` and `ana@example.org` are one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    address: String,
    key: String,
}

impl Email {
    pub fn parse(input: &str) -> Result<Email, DomainError> {
        let address = input.trim();
        if address.is_empty() {
            return Err(DomainError::BadEmail("enter an e-mail address"));
        }
        if address.len() > 254 {
            return Err(DomainError::BadEmail("it is longer than 254 characters"));
        }
        let (local, domain) = address.rsplit_once('@').ok_or(DomainError::BadEmail(
            "it needs an @, as in name@example.org",
        ))?;
        if local.is_empty() || local.len() > 64 {
            return Err(DomainError::BadEmail(
                "the part before the @ must be 1 to 64 characters",
            ));
        }
        let local_ok = local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&b))
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        if !local_ok {
            return Err(DomainError::BadEmail(
                "the part before the @ has characters that cannot be in an address",
            ));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 {
            return Err(DomainError::BadEmail(
                "the part after the @ must be a domain such as example.org",
            ));
        }
        for label in &labels {
            let ok = !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-');
            if !ok {
                return Err(DomainError::BadEmail(
                    "the part after the @ is not a valid domain",
                ));
            }
        }
        let tld = labels[labels.len() - 1];
        if tld.len() < 2 || tld.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DomainError::BadEmail(
                "the domain must end in a name such as .org or .com",
            ));
        }
        Ok(Email {
            address: address.to_owned(),
            key: address.to_ascii_lowercase(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.address
    }

    /// Lowercase form, unique among members.
    pub fn key(&self) -> &str {
        &self.key
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_ordinary_addresses() {
        for ok in [
            "ana@example.org",
            " Ana.Silva+news@Mail.Example.co.uk ",
            "o'neill@example.ie",
        ] {
            assert!(Email::parse(ok).is_ok(), "{ok:?} should be accepted");
        }
        let e = Email::parse(" Ana@Example.ORG ").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.as_str(), "Ana@Example.ORG");
        assert_eq!(e.key(), "ana@example.org");
    }

    #[test]
    fn refuses_bad_addresses() {
        for bad in [
            "",
            "   ",
            "ana",
            "ana@",
            "@example.org",
            "ana@example",
            "ana@@example.org",
            "ana@exa mple.org",
            "an a@example.org",
            "ana@-example.org",
            "ana@example.1",
            "ana..b@example.org",
            ".ana@example.org",
            "ana@example..org",
            "<a>@example.org",
            "ana@example.org\n",
        ] {
            let trimmed_ok = bad == "ana@example.org\n";
            assert_eq!(Email::parse(bad).is_ok(), trimmed_ok, "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,300}") {
            if let Ok(e) = Email::parse(&s) {
                prop_assert!(e.key().contains('@'));
                prop_assert_eq!(e.key(), e.key().to_ascii_lowercase());
            }
        }
    }
}
