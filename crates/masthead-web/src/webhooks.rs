//! Webhook delivery. The store's writes queue a delivery in the same
//! transaction as the change (an outbox); this task sends what is due,
//! signed like Ghost's (`X-Ghost-Signature: sha256=<hmac>, t=<ms>`, the
//! HMAC-SHA256 of body and timestamp with the webhook's secret), and retries
//! failures with growing delays. Receivers are called from here only, never
//! from the request that published, so a slow or broken receiver cannot slow
//! publishing down.
//!
//! Any number of instances may run this on one database. Each claims
//! deliveries under a lease (the store's `lease.rs`): a claimed delivery is
//! sent by its claimer only, its outcome recorded only while the claimer
//! still holds the lease, and one whose claimer died (the lease ran out) is
//! taken over by the next claim anywhere. The lease (60 s) is six times the
//! receiver's timeout (10 s), and never less than four times, so a live
//! sender is never doubled. A server that
//! stops on purpose cancels its sends in flight and hands their deliveries
//! back at once.
//!
//! Receivers must be public: an administrator's webhook must not become a
//! way to reach the server's own ports, its private network or a cloud
//! metadata service. The rule is checked on the address actually connected
//! to: host names are resolved by [`PublicOnly`], which drops every address
//! that is not public (so a name that resolves to loopback, now or later,
//! reaches nothing), and IP literals, which skip the resolver, are checked
//! before sending. Redirects are not followed and no proxy is used. The
//! delivery log says only "delivery failed" for any target that could not
//! be reached, refused or not, so the log cannot be used as a port scanner.
//! `--allow-private-webhooks` lifts the rule for an intranet.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use masthead_domain::network::is_public;
use masthead_store::now_ms;
use masthead_store::{Due, Outcome};
use sha2::Sha256;
use tokio::task::JoinHandle;

use crate::state::AppState;

/// How often the queue is looked at.
const EVERY: Duration = Duration::from_secs(1);
/// Deliveries sent at once.
const BATCH: u32 = 8;
/// A receiver gets this long to answer (at most; see [`send_timeout`]).
const TIMEOUT: Duration = Duration::from_secs(10);
/// How long a claimed delivery is held before another instance may take it
/// over. `MASTHEAD_WEBHOOK_LEASE_MS` changes it (tests, to watch a takeover
/// without waiting a minute).
const LEASE_MS: i64 = 60_000;
/// Attempts before a delivery is given up.
pub const MAX_ATTEMPTS: u32 = 6;

/// The first retry's delay; each later one is six times longer (10 s, 1 min,
/// 6 min, 36 min, 3.6 h). `MASTHEAD_WEBHOOK_RETRY_MS` changes the first.
fn retry_base_ms() -> i64 {
    std::env::var("MASTHEAD_WEBHOOK_RETRY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|v: &i64| *v > 0)
        .unwrap_or(10_000)
}

fn lease_ms() -> i64 {
    std::env::var("MASTHEAD_WEBHOOK_LEASE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|v: &i64| *v >= 300)
        .unwrap_or(LEASE_MS)
}

/// A receiver's time to answer: [`TIMEOUT`], or a quarter of a shorter
/// lease, so a send always ends (and is recorded) well before its lease does.
pub fn send_timeout(lease_ms: i64) -> Duration {
    TIMEOUT.min(Duration::from_millis(
        u64::try_from(lease_ms / 4).unwrap_or(0),
    ))
}

pub fn retry_delay_ms(base: i64, attempts_so_far: u32) -> i64 {
    base.saturating_mul(6_i64.saturating_pow(attempts_so_far.saturating_sub(1)))
}

/// `sha256=<hex>, t=<ms>` for `body`, as Ghost signs webhooks.
pub fn signature(secret: &str, body: &[u8], ts_ms: i64) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body);
    mac.update(ts_ms.to_string().as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}, t={ts_ms}")
}

/// What the delivery log says for a receiver that could not be reached, for
/// whatever reason: refused by the address rule, connection refused, no
/// answer in time, a name that does not resolve.
pub const DELIVERY_FAILED: &str = "delivery failed";

/// A DNS resolver that only ever hands out public addresses, so the
/// connection is made to an address that passed the rule (no window between
/// checking a name and connecting to it).
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let public: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|addr| is_public(addr.ip()))
                .collect();
            if public.is_empty() {
                return Err(format!("{host} has no public address").into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

/// The IP address written in `url`'s host, if it is one (`http://10.0.0.1/`,
/// `http://[::1]/`). Such hosts are connected to without resolving.
fn ip_literal(url: &reqwest::Url) -> Option<IpAddr> {
    let host = url.host_str()?;
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
        .parse()
        .ok()
}

/// Host names that are internal by definition: refused when a webhook is
/// added (resolving them at delivery time would refuse them anyway).
fn internal_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    !host.contains('.')
        || [
            ".localhost",
            ".local",
            ".localdomain",
            ".internal",
            ".intranet",
            ".lan",
            ".home.arpa",
        ]
        .iter()
        .any(|suffix| host.ends_with(suffix))
}

/// Checks a receiver's address when a webhook is added: an http(s) URL
/// with a host, and unless `allow_private`, not obviously internal (a
/// loopback, private or link-local IP, `localhost`, a single-label or
/// `.internal` name). The message is for the administrator.
pub fn check_target(url: &str, allow_private: bool) -> Result<reqwest::Url, &'static str> {
    const MALFORMED: &str =
        "Give the receiver's address starting with https:// (or http://), with a host name.";
    if url.len() > 2_000 || url.contains(char::is_whitespace) {
        return Err(MALFORMED);
    }
    let parsed = reqwest::Url::parse(url).map_err(|_| MALFORMED)?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none_or(str::is_empty) {
        return Err(MALFORMED);
    }
    if allow_private {
        return Ok(parsed);
    }
    let internal = match ip_literal(&parsed) {
        Some(ip) => !is_public(ip),
        None => parsed.host_str().is_some_and(internal_name),
    };
    if internal {
        return Err(
            "That address is on a private or internal network. Webhooks are delivered only to public addresses (the server's operator can allow private ones with --allow-private-webhooks).",
        );
    }
    Ok(parsed)
}

/// Whether a delivery to `url` may be attempted: an http(s) URL whose host,
/// if it is an IP literal, is public (or private targets are allowed).
/// Names are checked by [`PublicOnly`] as they are resolved.
fn may_send(url: &str, allow_private: bool) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    matches!(parsed.scheme(), "http" | "https")
        && (allow_private || ip_literal(&parsed).is_none_or(is_public))
}

fn client(allow_private: bool, timeout: Duration) -> Option<reqwest::Client> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .ok()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(timeout)
        // A redirect could lead anywhere, and a proxy would connect on our
        // behalf to addresses this process never sees.
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy();
    let builder = if allow_private {
        builder
    } else {
        builder.dns_resolver(PublicOnly)
    };
    builder
        .user_agent(concat!(
            "Masthead/",
            env!("CARGO_PKG_VERSION"),
            " (webhooks)"
        ))
        .build()
        .map_err(|e| tracing::error!(error = %e, "webhook client could not be built"))
        .ok()
}

/// The leases this process holds on deliveries being sent: each claim's
/// token, with how many of its deliveries are still in flight.
#[derive(Default)]
struct Held(std::sync::Mutex<std::collections::HashMap<String, usize>>);

impl Held {
    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, usize>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn add(&self, token: &str, n: usize) {
        *self.lock().entry(token.to_owned()).or_insert(0) += n;
    }

    fn done(&self, token: &str) {
        let mut held = self.lock();
        if let Some(n) = held.get_mut(token) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                held.remove(token);
            }
        }
    }

    fn tokens(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }
}

pub fn spawn_deliverer(state: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let allow_private = state.config.allow_private_webhooks;
        let lease = lease_ms();
        let Some(http) = client(allow_private, send_timeout(lease)) else {
            return;
        };
        let base = retry_base_ms();
        if let Err(e) = state.store.forget_failure_causes(DELIVERY_FAILED).await {
            tracing::warn!(error = %e, "could not tidy the webhook delivery log");
        }
        let mut shutdown = state.shutdown_signal();
        // Each delivery runs on its own task, at most BATCH at once, so one
        // slow receiver holds up nobody else.
        let slots = Arc::new(tokio::sync::Semaphore::new(BATCH as usize));
        let mut sending = tokio::task::JoinSet::new();
        let held = Arc::new(Held::default());
        loop {
            while sending.try_join_next().is_some() {}
            let free = slots.available_permits() as u32;
            if free == 0 {
                // Every slot is busy: claim more soon after one comes free,
                // not a whole tick later (a backlog drains at the receivers'
                // pace, not eight a second). The short pause lets a few
                // slots free up, so one claim takes several deliveries.
                tokio::select! {
                    p = slots.clone().acquire_owned() => match p {
                        Ok(p) => {
                            drop(p);
                            tokio::time::sleep(EVERY / 50).await;
                            continue;
                        }
                        Err(_) => break,
                    },
                    _ = shutdown.changed() => break,
                }
            }
            {
                let now = now_ms();
                match state.store.claim_due_deliveries(now, free, lease).await {
                    Ok(due) => {
                        let full = due.len() as u32 == free;
                        if let Some(d) = due.first() {
                            held.add(&d.lease_token, due.len());
                        }
                        for d in due {
                            let Ok(permit) = slots.clone().acquire_owned().await else {
                                break;
                            };
                            let (state, http, held) = (state.clone(), http.clone(), held.clone());
                            sending.spawn(async move {
                                let token = d.lease_token.clone();
                                deliver(&state, &http, d, base, allow_private).await;
                                held.done(&token);
                                drop(permit);
                            });
                        }
                        if full {
                            tokio::task::yield_now().await;
                            continue;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "webhook queue unavailable; retrying"),
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(EVERY) => {}
                _ = shutdown.changed() => break,
            }
        }
        // Stopping: cancel the sends in flight and hand their deliveries
        // back, so another instance (or this one, restarted) sends them at
        // once instead of after the lease. Receivers may see such a
        // delivery twice; `X-Masthead-Delivery` tells them it is the same.
        sending.abort_all();
        while sending.join_next().await.is_some() {}
        for token in held.tokens() {
            match state.store.release_deliveries(token).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(count = n, "handed back webhook deliveries in flight"),
                Err(e) => tracing::warn!(
                    error = %e,
                    "could not hand back webhook deliveries; they are sent again when their lease ends"
                ),
            }
        }
    })
}

async fn deliver(
    state: &AppState,
    http: &reqwest::Client,
    due: Due,
    base: i64,
    allow_private: bool,
) {
    let id = due.delivery.id;
    let token = due.lease_token.as_str();
    // Counted when claimed: this attempt included.
    let attempts = due.delivery.attempts;
    if attempts > MAX_ATTEMPTS {
        // Taken over after its last attempt's sender stopped mid-send.
        let stopped = "the server sending it stopped";
        record(
            state,
            id,
            token,
            None,
            Some(stopped.into()),
            Outcome::GaveUp,
        )
        .await;
        return;
    }
    let body = match crate::api::admin::webhook_payload(
        state,
        &due.delivery.event,
        due.delivery.subject_id,
    )
    .await
    {
        Some(b) => b,
        None => {
            record(
                state,
                id,
                token,
                None,
                Some("what it was about no longer exists".into()),
                Outcome::GaveUp,
            )
            .await;
            return;
        }
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let ts = now_ms();
    if !may_send(&due.target_url, allow_private) {
        // Logged for the operator; the delivery log shows what an
        // unreachable receiver shows.
        let refused = "refused: not a public address";
        fail(state, (id, token), attempts, ts, base, None, refused).await;
        return;
    }
    let result = http
        .post(&due.target_url)
        .header("content-type", "application/json")
        .header("x-ghost-signature", signature(&due.secret, &bytes, ts))
        .header("x-masthead-event", due.delivery.event.as_str())
        .header("x-masthead-delivery", id.to_string())
        .body(bytes)
        .send()
        .await;
    match result {
        Ok(res) if res.status().is_success() => {
            record(
                state,
                id,
                token,
                Some(res.status().as_u16()),
                None,
                Outcome::Delivered,
            )
            .await;
        }
        Ok(res) => {
            let status = res.status();
            let answer = format!("the receiver answered {status}");
            fail(
                state,
                (id, token),
                attempts,
                ts,
                base,
                Some(status.as_u16()),
                &answer,
            )
            .await;
        }
        Err(e) => {
            let cause = std::error::Error::source(&e).map_or_else(String::new, |s| s.to_string());
            fail(
                state,
                (id, token),
                attempts,
                ts,
                base,
                None,
                &format!("{e}: {cause}"),
            )
            .await;
        }
    }
}

/// Records a failed attempt (the `attempts`th, started at `started`) and
/// schedules the next. A receiver that answered is logged with its status;
/// one that could not be reached only as [`DELIVERY_FAILED`] (the cause goes
/// to the server log). The next try is timed from the start of this one, so
/// the log does not show how long a connection took to fail either.
async fn fail(
    state: &AppState,
    (id, token): (i64, &str),
    attempts: u32,
    started: i64,
    base: i64,
    code: Option<u16>,
    cause: &str,
) {
    let outcome = if attempts >= MAX_ATTEMPTS {
        Outcome::GaveUp
    } else {
        Outcome::Retry(started.saturating_add(retry_delay_ms(base, attempts)))
    };
    tracing::warn!(delivery = id, attempts, cause, "webhook delivery failed");
    let logged = match code {
        Some(_) => cause.to_owned(),
        None => DELIVERY_FAILED.to_owned(),
    };
    record(state, id, token, code, Some(logged), outcome).await;
}

/// Records the attempt's outcome, if this process still holds the lease.
async fn record(
    state: &AppState,
    id: i64,
    token: &str,
    code: Option<u16>,
    error: Option<String>,
    outcome: Outcome,
) {
    let now = now_ms();
    match state
        .store
        .record_attempt(id, token.to_owned(), code, error, outcome, now)
        .await
    {
        Ok(true) => {}
        // Only if this send outlived its lease (a stalled process).
        Ok(false) => tracing::warn!(
            delivery = id,
            "a webhook delivery was taken over by another instance; this attempt's outcome is not recorded"
        ),
        Err(e) => {
            tracing::error!(error = %e, delivery = id, "could not record a webhook attempt");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn obviously_internal_targets_are_refused_when_added() {
        for url in [
            "http://127.0.0.1:22/",
            "http://127.1/",
            "http://2130706433/",
            "http://0x7f.0.0.1/",
            "http://0.0.0.0:8080/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.5/hook",
            "http://192.168.1.1/",
            "http://172.16.0.1/",
            "http://100.64.0.1/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://localhost:2369/",
            "http://LOCALHOST./",
            "http://api.localhost/",
            "http://metadata/computeMetadata/v1/",
            "http://metadata.google.internal/",
            "http://printer.local/",
            "http://router.home.arpa/",
        ] {
            assert!(
                check_target(url, false).is_err_and(|m| m.contains("--allow-private-webhooks")),
                "{url} must be refused"
            );
            assert!(
                check_target(url, true).is_ok(),
                "{url} is allowed on an intranet"
            );
        }
        for url in [
            "https://hooks.example.com/x",
            "http://93.184.215.14:8080/",
            "https://[2606:4700:4700::1111]/",
        ] {
            assert!(check_target(url, false).is_ok(), "{url}");
        }
        for url in [
            "ftp://example.org/x",
            "http://",
            "hooks.example.com",
            "http://exa mple.com/",
            "javascript:alert(1)",
        ] {
            assert!(
                check_target(url, true).is_err_and(|m| m.starts_with("Give")),
                "{url} is malformed"
            );
        }
    }

    #[test]
    fn literal_addresses_are_checked_before_sending() {
        assert!(!may_send("http://127.0.0.1:9/", false));
        assert!(!may_send("http://[::1]:9/", false));
        assert!(!may_send("http://169.254.169.254/", false));
        assert!(!may_send("http://2130706433/", false));
        assert!(!may_send("file:///etc/passwd", true));
        assert!(may_send("http://127.0.0.1:9/", true));
        // Names are left to the resolver.
        assert!(may_send("http://localhost:9/", false));
        assert!(may_send("https://8.8.8.8/", false));
    }

    proptest::proptest! {
        /// A URL naming an IP address is accepted, when added and when sent,
        /// exactly when the address is public, in either notation.
        #[test]
        fn ip_literal_targets_follow_the_public_address_rule(raw in proptest::prelude::any::<u32>(), raw6 in proptest::prelude::any::<u128>()) {
            for ip in [IpAddr::V4(raw.into()), IpAddr::V6(raw6.into()), IpAddr::V6(std::net::Ipv4Addr::from(raw).to_ipv6_mapped())] {
                let url = match ip {
                    IpAddr::V4(v4) => format!("http://{v4}:8080/hook"),
                    IpAddr::V6(v6) => format!("http://[{v6}]:8080/hook"),
                };
                proptest::prop_assert_eq!(check_target(&url, false).is_ok(), is_public(ip), "{}", url);
                proptest::prop_assert_eq!(may_send(&url, false), is_public(ip), "{}", url);
                proptest::prop_assert!(check_target(&url, true).is_ok() && may_send(&url, true));
            }
        }
    }

    #[tokio::test]
    async fn the_resolver_hands_out_no_private_address() {
        use reqwest::dns::Resolve;
        for name in ["localhost", "127.0.0.1", "::1", "169.254.169.254"] {
            let parsed = name.parse::<reqwest::dns::Name>().expect("a name");
            let got = PublicOnly.resolve(parsed).await;
            assert!(got.is_err(), "{name} resolved to something");
        }
    }

    #[test]
    fn a_send_always_ends_well_within_its_lease() {
        assert_eq!(send_timeout(LEASE_MS), TIMEOUT);
        assert_eq!(send_timeout(8_000), Duration::from_secs(2));
        for lease in [300, 8_000, 60_000, 600_000] {
            assert!(send_timeout(lease).as_millis() * 4 <= lease as u128);
        }
    }

    #[test]
    fn retries_back_off() {
        assert_eq!(retry_delay_ms(10_000, 1), 10_000);
        assert_eq!(retry_delay_ms(10_000, 2), 60_000);
        assert_eq!(retry_delay_ms(10_000, 5), 12_960_000);
        assert_eq!(retry_delay_ms(i64::MAX, 3), i64::MAX);
    }

    #[test]
    fn signatures_are_ghosts() {
        // HMAC-SHA256("secret", "{}" + "1700000000000"), computed independently.
        let s = signature("secret", b"{}", 1_700_000_000_000);
        assert!(
            s.starts_with("sha256=") && s.ends_with(", t=1700000000000"),
            "{s}"
        );
        assert_eq!(s.len(), "sha256=".len() + 64 + ", t=1700000000000".len());
        assert_ne!(s, signature("other", b"{}", 1_700_000_000_000));
        assert_ne!(s, signature("secret", b"{ }", 1_700_000_000_000));
    }
}
