//! `S3Store` against moto's S3, and against a stub for the 409 S3 sends on a concurrent
//! conditional write (moto never sends it).

use std::time::{Duration, Instant};

use hookwarden_aws::S3Store;
use hookwarden_pipeline::ports::{ObjectStore, PutOutcome};
use hookwarden_testkit::http_stub::{Answer, StubServer};
use hookwarden_testkit::moto::MotoServer;

use crate::support::clients;

const BUCKET: &str = "hookwarden-events";

async fn store(moto: &MotoServer, timeout: Duration) -> S3Store {
    S3Store::new(clients(&moto.endpoint(), timeout).await.s3, BUCKET, timeout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_put_get_and_exists() {
    let moto = MotoServer::start();
    moto.create_bucket(BUCKET).await;
    let store = store(&moto, Duration::from_secs(5)).await;

    let key = "scalefusion/_state/ids/abc";
    assert!(!store.exists(key).await.unwrap());
    assert_eq!(store.get(key).await.unwrap(), None);

    assert_eq!(
        store
            .put_if_absent(key, b"first".to_vec(), "application/json")
            .await
            .unwrap(),
        PutOutcome::Created
    );
    // The second conditional write meets S3's 412 and changes nothing.
    assert_eq!(
        store
            .put_if_absent(key, b"second".to_vec(), "application/json")
            .await
            .unwrap(),
        PutOutcome::AlreadyExists
    );
    assert_eq!(
        moto.get_object(BUCKET, key).await.as_deref(),
        Some(&b"first"[..])
    );
    assert_eq!(
        store.get(key).await.unwrap().as_deref(),
        Some(&b"first"[..])
    );
    assert!(store.exists(key).await.unwrap());

    // The unconditional put replaces (the Knox certificate).
    store
        .put("knox/cert.pem", b"one".to_vec(), "application/x-pem-file")
        .await
        .unwrap();
    store
        .put("knox/cert.pem", b"two".to_vec(), "application/x-pem-file")
        .await
        .unwrap();
    assert_eq!(
        moto.get_object(BUCKET, "knox/cert.pem").await.as_deref(),
        Some(&b"two"[..])
    );
    let content_type = moto
        .s3()
        .await
        .head_object()
        .bucket(BUCKET)
        .key("knox/cert.pem")
        .send()
        .await
        .unwrap()
        .content_type()
        .map(str::to_string);
    assert_eq!(content_type.as_deref(), Some("application/x-pem-file"));

    assert_eq!(moto.list_keys(BUCKET, "").await, ["knox/cert.pem", key]);
    assert_eq!(store.location(), BUCKET);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_bucket_is_a_dependency_error_not_a_missing_object() {
    let moto = MotoServer::start();
    let store = store(&moto, Duration::from_secs(5)).await;
    let err = store.get("k").await.unwrap_err();
    assert_eq!(err.dependency, "s3");
    assert!(err.detail.contains("NoSuchBucket"), "{err}");
    let err = store
        .put_if_absent("k", b"x".to_vec(), "text/plain")
        .await
        .unwrap_err();
    assert!(err.detail.contains("NoSuchBucket"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outages_fail_within_the_timeout_and_recover() {
    let mut moto = MotoServer::start();
    moto.create_bucket(BUCKET).await;
    let timeout = Duration::from_millis(800);
    let store = store(&moto, timeout).await;
    store
        .put_if_absent("before", b"1".to_vec(), "text/plain")
        .await
        .unwrap();

    // A hung endpoint: the operation timeout ends the call.
    moto.pause();
    let started = Instant::now();
    let err = store
        .put_if_absent("during", b"1".to_vec(), "text/plain")
        .await
        .unwrap_err();
    let hung = started.elapsed();
    moto.resume();
    assert_eq!(err.dependency, "s3");
    assert!(
        hung >= timeout && hung < timeout + Duration::from_millis(700),
        "took {hung:?}: {err}"
    );
    assert!(err.detail.contains("PutObject during"), "{err}");

    // A refused connection fails fast (both attempts).
    moto.stop();
    let started = Instant::now();
    let err = store.get("before").await.unwrap_err();
    let refused = started.elapsed();
    assert!(
        refused < timeout + Duration::from_millis(200),
        "took {refused:?}: {err}"
    );
    assert_eq!(err.dependency, "s3");

    // The same store works once S3 is back (moto restarts empty).
    moto.restart();
    moto.create_bucket(BUCKET).await;
    assert_eq!(
        store
            .put_if_absent("after", b"1".to_vec(), "text/plain")
            .await
            .unwrap(),
        PutOutcome::Created
    );
    println!("hung endpoint → error after {hung:?} (timeout {timeout:?}); refused → error after {refused:?}");
}

fn conflict() -> Answer {
    Answer::new(
        409,
        "application/xml",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>ConditionalRequestConflict</Code>\
         <Message>A conflicting operation is in progress</Message><RequestId>1</RequestId></Error>",
    )
}

async fn stub_store(stub: &StubServer) -> S3Store {
    let timeout = Duration::from_secs(5);
    S3Store::new(clients(&stub.url(), timeout).await.s3, BUCKET, timeout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_409_conflict_is_retried() {
    let stub = StubServer::start(|_, earlier| match earlier.len() {
        0 | 1 => conflict(),
        _ => Answer::new(200, "application/xml", ""),
    })
    .await;
    let store = stub_store(&stub).await;
    assert_eq!(
        store
            .put_if_absent("k", b"body".to_vec(), "text/plain")
            .await
            .unwrap(),
        PutOutcome::Created
    );
    let requests = stub.requests();
    assert_eq!(requests.len(), 3);
    for request in &requests {
        assert_eq!(request.method, "PUT");
        assert_eq!(
            request.target.split('?').next(),
            Some("/hookwarden-events/k")
        );
        assert_eq!(request.header("if-none-match"), Some("*"));
        assert_eq!(request.body.as_ref(), b"body");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lasting_409_conflict_becomes_a_dependency_error() {
    let stub = StubServer::start(|_, _| conflict()).await;
    let store = stub_store(&stub).await;
    let err = store
        .put_if_absent("k", b"body".to_vec(), "text/plain")
        .await
        .unwrap_err();
    assert_eq!(err.dependency, "s3");
    assert!(
        err.detail
            .contains("409 ConditionalRequestConflict after 3 attempts"),
        "{err}"
    );
    assert_eq!(stub.requests().len(), 3);
}
