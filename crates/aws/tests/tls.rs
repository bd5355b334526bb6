//! The AWS clients' TLS configuration, through the S3 adapter, against real TLS servers on
//! 127.0.0.1 (Python's `ssl` module with certificates made here): with `SSL_CERT_FILE` set, the CA it names is trusted (a
//! deployment behind a TLS-inspecting proxy) and nothing else is: an unknown issuer is
//! refused.
//!
//! One test, in a test binary of its own (crates/aws/Cargo.toml): it sets `SSL_CERT_FILE` for
//! the whole process, before the one TLS configuration is built.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hookwarden_aws::{sdk, Clients, S3Store};
use hookwarden_pipeline::ports::ObjectStore as _;

/// An HTTPS server answering `GET /` with `ok`, until dropped.
struct PythonTlsServer {
    child: Child,
    port: u16,
}

impl PythonTlsServer {
    fn start(cert: &std::path::Path, key: &std::path::Path) -> Self {
        let script = "import http.server, ssl, sys\n\
            class H(http.server.BaseHTTPRequestHandler):\n\
            \x20   def do_GET(self):\n\
            \x20       self.send_response(200); self.send_header('Content-Length', '2'); self.end_headers(); self.wfile.write(b'ok')\n\
            \x20   def log_message(self, *a): pass\n\
            server = http.server.HTTPServer(('127.0.0.1', 0), H)\n\
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n\
            context.load_cert_chain(sys.argv[1], sys.argv[2])\n\
            server.socket = context.wrap_socket(server.socket, server_side=True)\n\
            print(server.server_address[1], flush=True)\n\
            server.serve_forever()\n";
        let mut child = Command::new("python3")
            .args(["-c", script])
            .arg(cert)
            .arg(key)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the TLS server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("the server prints its port");
        let port = line.trim().parse().expect("a port number");
        Self { child, port }
    }
}

impl Drop for PythonTlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A self-signed certificate for 127.0.0.1, as PEM files in `dir`: (certificate, key).
fn self_signed(dir: &std::path::Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("hookwarden test {name}"));
    let cert = params.self_signed(&key).unwrap();
    let cert_path = dir.join(format!("{name}.pem"));
    let key_path = dir.join(format!("{name}-key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (cert_path, key_path)
}

/// S3 at `https://127.0.0.1:{port}` through the functions' clients: the Python server
/// answers every GET with `ok`, which reads as an object.
async fn s3_at(port: u16) -> S3Store {
    let timeout = Duration::from_secs(5);
    let loader = hookwarden_testkit::moto::at_endpoint(
        aws_config::defaults(sdk::behavior_version()),
        &format!("https://127.0.0.1:{port}"),
    );
    S3Store::new(
        Clients::from_loader(loader, timeout).await.s3,
        "bucket",
        timeout,
    )
}

#[tokio::test(flavor = "current_thread")]
async fn trusts_ssl_cert_file_and_refuses_an_unknown_issuer() {
    let dir = tempfile::tempdir().unwrap();
    let (trusted_cert, trusted_key) = self_signed(dir.path(), "trusted");
    let (stranger_cert, stranger_key) = self_signed(dir.path(), "stranger");
    let trusted = PythonTlsServer::start(&trusted_cert, &trusted_key);
    let stranger = PythonTlsServer::start(&stranger_cert, &stranger_key);
    std::env::set_var("SSL_CERT_FILE", &trusted_cert);

    let object = s3_at(trusted.port)
        .await
        .get("key")
        .await
        .expect("the server's certificate is in SSL_CERT_FILE");
    assert_eq!(object.as_deref(), Some(&b"ok"[..]));

    let refused = s3_at(stranger.port)
        .await
        .get("key")
        .await
        .expect_err("an unknown issuer is refused");
    assert!(refused.detail.contains("UnknownIssuer"), "{refused}");
}
