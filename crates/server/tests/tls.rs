//! Native TLS: natter serves HTTPS from the configured certificate and key, marks responses
//! with HSTS, and picks up a renewed certificate on SIGHUP without restarting.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Backend, Server};

/// Writes a fresh self-signed certificate for 127.0.0.1 (and its key) with openssl.
fn self_signed(dir: &Path, name: &str) -> String {
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", &format!("/CN={name}")])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl must be installed");
    assert!(status.success());
    std::fs::read_to_string(&cert).unwrap()
}

/// A client that trusts only `pem`.
fn trusting(pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(pem.as_bytes()).unwrap()])
        .build()
        .unwrap()
}

#[tokio::test]
async fn https_is_served_with_hsts_and_a_renewed_certificate_is_loaded_on_sighup() {
    let certs = tempfile::tempdir().unwrap();
    let first = self_signed(certs.path(), "first");
    // The server reads fixed paths; renewal replaces the files in place.
    let cert_file = certs.path().join("live.crt");
    let key_file = certs.path().join("live.key");
    std::fs::copy(certs.path().join("first.crt"), &cert_file).unwrap();
    std::fs::copy(certs.path().join("first.key"), &key_file).unwrap();
    let server = Server::start_with(
        Backend::Sqlite,
        &[
            ("NATTER_TLS_CERT_FILE", cert_file.to_str().unwrap()),
            ("NATTER_TLS_KEY_FILE", key_file.to_str().unwrap()),
        ],
    )
    .await;
    assert!(server.base.starts_with("https://"), "{}", server.base);

    let response = trusting(&first)
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age=")
    );
    let plain = format!("{}/healthz", server.base.replacen("https", "http", 1));
    assert!(
        reqwest::get(plain).await.is_err(),
        "plain HTTP is not answered on a TLS listener"
    );

    let second = self_signed(certs.path(), "second");
    std::fs::copy(certs.path().join("second.crt"), &cert_file).unwrap();
    std::fs::copy(certs.path().join("second.key"), &key_file).unwrap();
    assert!(
        trusting(&second)
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .is_err(),
        "the old certificate is still served before SIGHUP"
    );
    server.signal("HUP");
    let mut renewed = false;
    for _ in 0..50 {
        let response = trusting(&second)
            .get(format!("{}/healthz", server.base))
            .send()
            .await;
        if response.is_ok_and(|r| r.status() == 200) {
            renewed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        renewed,
        "the renewed certificate was not served: {}",
        server.stderr()
    );
}

#[test]
fn a_certificate_without_its_key_is_a_configuration_error() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_natter"))
        .args(["migrate"])
        .env("NATTER_TLS_CERT_FILE", "/etc/ssl/certs/x.pem")
        .env("NATTER_DATA_DIR", tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tls.cert_file and tls.key_file"));
}
