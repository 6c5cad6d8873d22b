//! Unit tests of the pure parts: `--media-url`, SigV4 signing, listings.
//! The stores themselves are exercised against a real directory and a real
//! S3 server by `crates/masthead/tests/site/media_s3.rs`.

use proptest::prelude::*;

use super::s3::{authorization, canonical_query, parse_list, uri_encode, xml_unescape};
use super::*;

#[test]
fn media_urls_name_a_directory_or_a_bucket() {
    assert_eq!(
        parse_media_url("file:///srv/media"),
        Ok(MediaLocation::Dir(PathBuf::from("/srv/media")))
    );
    assert_eq!(
        parse_media_url("s3://news-media?endpoint=http://127.0.0.1:9000&region=eu-west-1"),
        Ok(MediaLocation::S3 {
            bucket: "news-media".into(),
            prefix: String::new(),
            endpoint: "http://127.0.0.1:9000".into(),
            region: Some("eu-west-1".into()),
        })
    );
    assert_eq!(
        parse_media_url("s3://news.media/site-a/uploads/?endpoint=https%3A%2F%2Fs3.example.net"),
        Ok(MediaLocation::S3 {
            bucket: "news.media".into(),
            prefix: "site-a/uploads".into(),
            endpoint: "https://s3.example.net".into(),
            region: None,
        })
    );
    assert_eq!(
        parse_media_url("s3://plain-bucket"),
        Ok(MediaLocation::S3 {
            bucket: "plain-bucket".into(),
            prefix: String::new(),
            endpoint: String::new(),
            region: None,
        })
    );
    for (bad, says) in [
        ("/srv/media", "neither a file:// nor an s3://"),
        ("file://", "absolute path"),
        ("file://relative/dir", "absolute path"),
        ("s3://", "not a bucket name"),
        ("s3://Upper", "not a bucket name"),
        ("s3://ab", "not a bucket name"),
        ("s3://-bucket", "not a bucket name"),
        ("s3://bucket?endpoint=ftp://host", "must be http://"),
        ("s3://bucket?endpoint=http://", "must be http://"),
        ("s3://bucket?endpoint=http://host/path", "without a path"),
        ("s3://bucket?endpoint=http://a&endpoint=http://b", "twice"),
        ("s3://bucket?region=", "not a region"),
        ("s3://bucket?region=EU", "not a region"),
        ("s3://bucket?secret=x", "unknown setting"),
        ("s3://bucket?endpoint=%zz", "badly escaped"),
        ("s3://bucket/../x", "prefix"),
        ("s3://bucket/a b", "prefix"),
        ("https://bucket.s3.amazonaws.com", "neither"),
    ] {
        let e = parse_media_url(bad).expect_err(bad);
        assert!(e.0.contains(says), "{bad}: {e}");
    }
}

#[test]
fn an_s3_url_without_credentials_is_refused_clearly() {
    let e = MediaStore::open(
        Some("s3://bucket?endpoint=http://127.0.0.1:1"),
        PathBuf::new(),
        || Err(MediaUrlError("no keys".into())),
    )
    .expect_err("refused");
    assert_eq!(e.0, "no keys");
    // The directory default needs no credentials at all.
    let store = MediaStore::open(None, PathBuf::from("/tmp/x"), || unreachable!()).expect("dir");
    assert_eq!(store.local_dir(), Some(std::path::Path::new("/tmp/x")));
}

#[test]
fn the_region_comes_from_the_url_then_the_environment_then_the_default() {
    let creds = |region: Option<&str>| {
        let mut c = S3Credentials::new("AKID", "secret");
        c.region = region.map(str::to_owned);
        Ok(c)
    };
    let describe = |url: &str, region: Option<&str>| {
        MediaStore::open(Some(url), PathBuf::new(), || creds(region))
            .expect("open")
            .describe()
    };
    assert!(
        describe("s3://b-1?region=eu-north-1", Some("us-west-2")).contains("region eu-north-1")
    );
    assert!(describe("s3://b-1", Some("us-west-2")).contains("s3.us-west-2.amazonaws.com"));
    assert!(describe("s3://b-1?endpoint=http://127.0.0.1:9", None).contains("region us-east-1"));
    // Secrets never print.
    let c = S3Credentials::new("AKID", "very-secret-value");
    assert!(!format!("{c:?}").contains("very-secret-value"));
    assert!(!describe("s3://b-1", None).contains("secret"));
}

/// The example request in AWS's Signature Version 4 documentation for S3
/// (GET /test.txt with a Range header, 24 May 2013).
#[test]
fn sigv4_matches_the_published_example() {
    let creds = S3Credentials::new(
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    );
    let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let mut headers = vec![
        ("x-amz-date".to_owned(), "20130524T000000Z".to_owned()),
        ("range".to_owned(), "bytes=0-9".to_owned()),
        (
            "host".to_owned(),
            "examplebucket.s3.amazonaws.com".to_owned(),
        ),
        ("x-amz-content-sha256".to_owned(), empty.to_owned()),
    ];
    let auth = authorization(
        &creds,
        "us-east-1",
        "GET",
        "/test.txt",
        "",
        &mut headers,
        empty,
        "20130524T000000Z",
    );
    assert_eq!(
        auth,
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
         SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
         Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    );
}

#[test]
fn query_strings_are_encoded_and_sorted_for_signing() {
    assert_eq!(
        canonical_query(&[("prefix", "a/b c"), ("list-type", "2")]),
        "list-type=2&prefix=a%2Fb%20c"
    );
    assert_eq!(
        uri_encode("bucket/0a1b/640.webp", false),
        "bucket/0a1b/640.webp"
    );
    assert_eq!(uri_encode("a+b=c~", true), "a%2Bb%3Dc~");
}

#[test]
fn listings_give_keys_sizes_and_the_next_page() {
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix></Prefix>
<KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>
<Contents><Key>0123456789abcdef0123/640.webp</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>
<ETag>&quot;abc&quot;</ETag><Size>1234</Size><StorageClass>STANDARD</StorageClass></Contents>
<Contents><Key>a&amp;b/info</Key><Size>20</Size></Contents>
<NextContinuationToken>tok/en+=</NextContinuationToken></ListBucketResult>"#;
    assert_eq!(
        parse_list(xml),
        Ok(super::s3::ListPage {
            objects: vec![
                ("0123456789abcdef0123/640.webp".into(), 1234),
                ("a&b/info".into(), 20)
            ],
            truncated: true,
            next: Some("tok/en+=".into()),
        })
    );
    let last = "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>";
    assert_eq!(
        parse_list(last),
        Ok(super::s3::ListPage {
            objects: vec![],
            truncated: false,
            next: None
        })
    );
    assert!(parse_list("<Error><Code>AccessDenied</Code></Error>").is_err());
    assert!(parse_list("<ListBucketResult><Contents><Key>k</Key></Contents>").is_err());
    assert_eq!(xml_unescape("a&lt;b&#x41;&#66;&bogus;&"), "a<bAB&bogus;&");
}

#[test]
fn only_plain_relative_paths_are_object_names() {
    for good in ["0123456789abcdef0123/640.webp", "k/info", "a_b-c.d"] {
        assert!(valid_path(good), "{good}");
    }
    for bad in [
        "",
        "/abs",
        "a//b",
        "../x",
        "a/../b",
        ".tmp-x/info",
        "a/b c",
        "a\\b",
        "a/",
    ] {
        assert!(!valid_path(bad), "{bad}");
    }
}

proptest! {
    #[test]
    fn media_url_parsing_never_panics(raw in "\\PC{0,80}") {
        let _ = parse_media_url(&raw);
    }

    #[test]
    fn s3_query_parsing_never_panics(tail in "[a-z=&%0-9:/.?]{0,60}") {
        let _ = parse_media_url(&format!("s3://bucket?{tail}"));
    }

    #[test]
    fn valid_bucket_urls_round_trip(
        bucket in "[a-z0-9][a-z0-9-]{1,30}[a-z0-9]",
        port in 1024u16..,
        region in "[a-z]{2}-[a-z]{4,9}-[1-9]",
    ) {
        let url = format!("s3://{bucket}?endpoint=http://127.0.0.1:{port}&region={region}");
        prop_assert_eq!(
            parse_media_url(&url),
            Ok(MediaLocation::S3 {
                bucket,
                prefix: String::new(),
                endpoint: format!("http://127.0.0.1:{port}"),
                region: Some(region),
            })
        );
    }

    #[test]
    fn listing_parsing_never_panics(xml in "\\PC{0,200}") {
        let _ = parse_list(&format!("<ListBucketResult>{xml}"));
        let _ = xml_unescape(&xml);
    }

    #[test]
    fn listed_keys_come_back_unescaped(key in "[a-z0-9&<>'\"/._-]{1,40}", size in 0u64..) {
        let escaped = key
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&apos;");
        let xml = format!(
            "<ListBucketResult><Contents><Key>{escaped}</Key><Size>{size}</Size></Contents></ListBucketResult>"
        );
        let page = parse_list(&xml).map_err(TestCaseError::fail)?;
        prop_assert_eq!(page.objects, vec![(key, size)]);
    }
}
