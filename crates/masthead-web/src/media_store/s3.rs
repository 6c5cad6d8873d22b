//! The media library in an S3-compatible bucket: five requests (HEAD bucket,
//! PUT, GET and HEAD object, ListObjectsV2), path-style addressing so any
//! endpoint works (AWS, MinIO, Ceph, R2, a test server on loopback), each
//! signed with AWS Signature Version 4 using the workspace's `hmac` and
//! `sha2`. Why not an SDK: `docs/architecture.md`, "Media store".

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use sha2::{Digest, Sha256};

use super::{MediaFile, MediaResult, MediaStoreError, MediaUrlError, StoredObject};

/// Longest wait for one request (a 20 MB original on a slow link included).
const TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// What readers' caches may do with a served width; kept on the object too,
/// so a CDN in front of the bucket would behave the same.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Objects of one folder written at once.
const PARALLEL_PUTS: usize = 6;
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Access keys from the usual AWS environment variables. The secret never prints.
#[derive(Clone)]
pub struct S3Credentials {
    pub access_key_id: String,
    secret_access_key: Arc<str>,
    session_token: Option<Arc<str>>,
    /// `AWS_REGION` (or `AWS_DEFAULT_REGION`), used when the URL names none.
    pub region: Option<String>,
}

impl fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"[redacted]")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "[redacted]"),
            )
            .field("region", &self.region)
            .finish()
    }
}

impl S3Credentials {
    pub fn new(access_key_id: &str, secret_access_key: &str) -> S3Credentials {
        S3Credentials {
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret_access_key.into(),
            session_token: None,
            region: None,
        }
    }

    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (both required),
    /// `AWS_SESSION_TOKEN` and `AWS_REGION`/`AWS_DEFAULT_REGION` (optional).
    pub fn from_env() -> Result<S3Credentials, MediaUrlError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let (Some(id), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY"))
        else {
            return Err(MediaUrlError(
                "--media-url names an S3 bucket, but AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \
                 are not both set; set them to a key that may read, write and list the bucket"
                    .to_owned(),
            ));
        };
        Ok(S3Credentials {
            access_key_id: id,
            secret_access_key: secret.into(),
            session_token: var("AWS_SESSION_TOKEN").map(Into::into),
            region: var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")),
        })
    }
}

#[derive(Clone)]
pub struct S3Bucket(Arc<Inner>);

impl fmt::Debug for S3Bucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

struct Inner {
    /// `http(s)://host[:port]`.
    endpoint: String,
    bucket: String,
    prefix: String,
    region: String,
    credentials: S3Credentials,
    http: Result<reqwest::Client, String>,
}

fn http_client() -> Result<reqwest::Client, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("Masthead/", env!("CARGO_PKG_VERSION"), " (media)"))
        .build()
        .map_err(|e| e.to_string())
}

/// What one signed request came back with.
struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Bytes,
}

impl S3Bucket {
    pub fn new(
        endpoint: String,
        bucket: String,
        prefix: String,
        region: String,
        credentials: S3Credentials,
    ) -> S3Bucket {
        S3Bucket(Arc::new(Inner {
            endpoint,
            bucket,
            prefix,
            region,
            credentials,
            http: http_client(),
        }))
    }

    pub(super) fn describe(&self) -> String {
        let i = &self.0;
        let place = if i.prefix.is_empty() {
            i.bucket.clone()
        } else {
            format!("{}/{}", i.bucket, i.prefix)
        };
        format!(
            "the S3 bucket {place} at {} (region {}, key {})",
            i.endpoint, i.region, i.credentials.access_key_id
        )
    }

    /// The object key of a media path.
    fn object_key(&self, path: &str) -> String {
        if self.0.prefix.is_empty() {
            path.to_owned()
        } else {
            format!("{}/{path}", self.0.prefix)
        }
    }

    /// Sends one request, signed. `key` is the object key (`None`: the bucket).
    async fn send(
        &self,
        method: Method,
        key: Option<&str>,
        query: &[(&str, &str)],
        body: Option<(Bytes, &str)>,
    ) -> MediaResult<Answer> {
        let i = &self.0;
        let http = i
            .http
            .as_ref()
            .map_err(|e| MediaStoreError::Failed(format!("no HTTP client: {e}")))?;
        let mut path = format!("/{}", uri_encode(&i.bucket, false));
        if let Some(key) = key {
            path.push('/');
            path.push_str(&uri_encode(key, false));
        }
        let query_string = canonical_query(query);
        let url = if query_string.is_empty() {
            format!("{}{path}", i.endpoint)
        } else {
            format!("{}{path}?{query_string}", i.endpoint)
        };
        let parsed = reqwest::Url::parse(&url)
            .map_err(|e| MediaStoreError::Failed(format!("bad request address: {e}")))?;
        let host = match (parsed.host_str(), parsed.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => return Err(MediaStoreError::Failed("endpoint has no host".into())),
        };
        let payload_hash = match &body {
            Some((bytes, _)) => hex(&Sha256::digest(bytes)),
            None => EMPTY_SHA256.to_owned(),
        };
        let amz_date = jiff::Timestamp::now()
            .strftime("%Y%m%dT%H%M%SZ")
            .to_string();
        let mut signed: Vec<(String, String)> = vec![
            ("host".into(), host),
            ("x-amz-content-sha256".into(), payload_hash.clone()),
            ("x-amz-date".into(), amz_date.clone()),
        ];
        if let Some(token) = &i.credentials.session_token {
            signed.push(("x-amz-security-token".into(), token.to_string()));
        }
        let authorization = authorization(
            &i.credentials,
            &i.region,
            method.as_str(),
            &path,
            &query_string,
            &mut signed,
            &payload_hash,
            &amz_date,
        );
        let mut req = http.request(method, parsed);
        for (name, value) in &signed {
            if name != "host" {
                req = req.header(name.as_str(), value.as_str());
            }
        }
        req = req.header(reqwest::header::AUTHORIZATION, authorization);
        if let Some((bytes, content_type)) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .header(reqwest::header::CACHE_CONTROL, IMMUTABLE)
                .body(bytes);
        }
        let res = req.send().await.map_err(|e| {
            MediaStoreError::Unavailable(format!("{} did not answer: {e}", i.endpoint))
        })?;
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.bytes().await.map_err(|e| {
            MediaStoreError::Unavailable(format!("{} broke off its answer: {e}", i.endpoint))
        })?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// A non-success answer as an error, with the S3 error code when given.
    fn refused(&self, what: &str, a: &Answer) -> MediaStoreError {
        let code = xml_values(&String::from_utf8_lossy(&a.body), "Code")
            .into_iter()
            .next()
            .unwrap_or_default();
        let text = format!(
            "{what} in bucket {}: HTTP {} {code}",
            self.0.bucket,
            a.status.as_u16()
        );
        if a.status == StatusCode::NOT_FOUND {
            MediaStoreError::NotFound
        } else if a.status.is_server_error() || a.status == StatusCode::TOO_MANY_REQUESTS {
            MediaStoreError::Unavailable(text)
        } else {
            MediaStoreError::Failed(text)
        }
    }

    /// Lists one object: proves the endpoint answers, the bucket exists and
    /// the key may list it (the permission a backup needs; HEAD bucket asks
    /// for the same one on AWS but not on every S3-compatible server).
    pub(super) async fn check(&self) -> MediaResult<()> {
        let a = self
            .send(
                Method::GET,
                None,
                &[("list-type", "2"), ("max-keys", "1")],
                None,
            )
            .await?;
        match a.status {
            s if s.is_success() => Ok(()),
            StatusCode::NOT_FOUND => Err(MediaStoreError::Failed(format!(
                "the bucket {} does not exist at {}; create it first",
                self.0.bucket, self.0.endpoint
            ))),
            StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => {
                let code = xml_values(&String::from_utf8_lossy(&a.body), "Code")
                    .into_iter()
                    .next()
                    .unwrap_or_default();
                Err(MediaStoreError::Failed(format!(
                    "the key {} may not use the bucket {} (HTTP {} {code}); check \
                     AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, the region, and that the key's \
                     policy allows s3:ListBucket, s3:GetObject and s3:PutObject on it",
                    self.0.credentials.access_key_id,
                    self.0.bucket,
                    a.status.as_u16()
                )))
            }
            StatusCode::MOVED_PERMANENTLY => Err(MediaStoreError::Failed(format!(
                "the bucket {} is in another region than {}; set region= in --media-url",
                self.0.bucket, self.0.region
            ))),
            _ => Err(self.refused("checking", &a)),
        }
    }

    /// Every file but the last, a few at once, then the last (the
    /// completion marker) once all the others are stored.
    pub(super) async fn put_folder(&self, key: &str, mut files: Vec<MediaFile>) -> MediaResult<()> {
        use futures_util::stream::{self, StreamExt, TryStreamExt};
        let Some(marker) = files.pop() else {
            return Ok(());
        };
        // Owned futures: borrowed ones trip up axum's `Send` check.
        let puts = files.into_iter().map(|file| {
            let bucket = self.clone();
            let key = key.to_owned();
            async move { bucket.put(&key, &file).await }
        });
        stream::iter(puts)
            .buffer_unordered(PARALLEL_PUTS)
            .try_collect::<Vec<()>>()
            .await?;
        self.put(key, &marker).await
    }

    async fn put(&self, folder: &str, file: &MediaFile) -> MediaResult<()> {
        let key = self.object_key(&format!("{folder}/{}", file.name));
        let a = self
            .send(
                Method::PUT,
                Some(&key),
                &[],
                Some((file.bytes.clone(), file.content_type)),
            )
            .await?;
        if a.status.is_success() {
            Ok(())
        } else {
            Err(self.refused(&format!("writing {key}"), &a))
        }
    }

    pub(super) async fn get(&self, path: &str) -> MediaResult<Bytes> {
        let key = self.object_key(path);
        let a = self.send(Method::GET, Some(&key), &[], None).await?;
        if a.status.is_success() {
            Ok(a.body)
        } else {
            Err(self.refused(&format!("reading {key}"), &a))
        }
    }

    pub(super) async fn head(&self, path: &str) -> MediaResult<Option<u64>> {
        let key = self.object_key(path);
        let a = self.send(Method::HEAD, Some(&key), &[], None).await?;
        if a.status.is_success() {
            Ok(a.headers
                .get(reqwest::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .or(Some(0)))
        } else if a.status == StatusCode::NOT_FOUND {
            Ok(None)
        } else {
            Err(self.refused(&format!("looking up {key}"), &a))
        }
    }

    /// ListObjectsV2, a page of up to 1,000 at a time.
    pub(super) async fn list(&self) -> MediaResult<Vec<StoredObject>> {
        let prefix = if self.0.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.0.prefix)
        };
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("list-type", "2")];
            if !prefix.is_empty() {
                query.push(("prefix", prefix.as_str()));
            }
            if let Some(t) = &token {
                query.push(("continuation-token", t.as_str()));
            }
            let a = self.send(Method::GET, None, &query, None).await?;
            if !a.status.is_success() {
                return Err(self.refused("listing", &a));
            }
            let page = parse_list(&String::from_utf8_lossy(&a.body))
                .map_err(|e| MediaStoreError::Failed(format!("unreadable listing: {e}")))?;
            out.extend(page.objects.into_iter().filter_map(|(key, len)| {
                let path = key.strip_prefix(&prefix)?.to_owned();
                super::valid_path(&path).then_some(StoredObject { path, len })
            }));
            match page.next {
                Some(t) if page.truncated => token = Some(t),
                _ => break,
            }
        }
        Ok(out)
    }
}

/// `Authorization` for a request (SigV4, service `s3`); sorts `headers`,
/// which are all signed and must all be sent.
#[allow(clippy::too_many_arguments)]
pub(super) fn authorization(
    credentials: &S3Credentials,
    region: &str,
    method: &str,
    canonical_uri: &str,
    canonical_query: &str,
    headers: &mut [(String, String)],
    payload_hash: &str,
    amz_date: &str,
) -> String {
    headers.sort();
    let canonical_headers: String = headers
        .iter()
        .map(|(n, v)| format!("{n}:{}\n", v.trim()))
        .collect();
    let signed_headers = headers
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_request = format!(
        "{method}\n{canonical_uri}\n{canonical_query}\n{canonical_headers}\n{signed_headers}\n{payload_hash}"
    );
    let date = &amz_date[..amz_date.len().min(8)];
    let scope = format!("{date}/{region}/s3/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let mut key = hmac(
        format!("AWS4{}", credentials.secret_access_key).as_bytes(),
        date.as_bytes(),
    );
    for part in [region, "s3", "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    let signature = hex(&hmac(&key, string_to_sign.as_bytes()));
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        credentials.access_key_id
    )
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length: this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// SigV4's URI encoding: everything but `A-Z a-z 0-9 - _ . ~` is `%XX`;
/// `/` stays as it is in paths (`slash_too` false) and is escaped in query values.
pub(super) fn uri_encode(s: &str, slash_too: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (b == b'/' && !slash_too)
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Query parameters encoded and sorted by name, as signed and as sent.
pub(super) fn canonical_query(query: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (uri_encode(k, true), uri_encode(v, true)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// One page of a ListObjectsV2 answer.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct ListPage {
    pub objects: Vec<(String, u64)>,
    pub truncated: bool,
    pub next: Option<String>,
}

/// Reads the fields Masthead needs from a `ListBucketResult`: each
/// `<Contents>`'s `Key` and `Size`, `IsTruncated` and `NextContinuationToken`.
pub(super) fn parse_list(xml: &str) -> Result<ListPage, String> {
    if !xml.contains("<ListBucketResult") {
        return Err("not a ListBucketResult".into());
    }
    let mut objects = Vec::new();
    for contents in xml.split("<Contents>").skip(1) {
        let contents = contents
            .split("</Contents>")
            .next()
            .ok_or("unclosed Contents")?;
        let key = xml_values(contents, "Key")
            .into_iter()
            .next()
            .ok_or("an object without a Key")?;
        let size = xml_values(contents, "Size")
            .into_iter()
            .next()
            .and_then(|s| s.trim().parse().ok())
            .ok_or("an object without a readable Size")?;
        objects.push((key, size));
    }
    let truncated = xml_values(xml, "IsTruncated")
        .first()
        .is_some_and(|v| v.trim() == "true");
    let next = xml_values(xml, "NextContinuationToken").into_iter().next();
    Ok(ListPage {
        objects,
        truncated,
        next,
    })
}

/// The unescaped text of every `<tag>…</tag>` in `xml` (no nesting inside).
fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    xml.split(&open)
        .skip(1)
        .filter_map(|rest| rest.split_once(&close).map(|(v, _)| xml_unescape(v)))
        .collect()
}

/// The five predefined entities and numeric references; anything else kept as is.
pub(super) fn xml_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|&e| e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}
