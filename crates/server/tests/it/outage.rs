//! PostgreSQL going away under a running server (issue 10, SECURITY-CASES R5): a TCP
//! proxy between the server and the database is stopped (its connections cut, its
//! port refusing) and started again.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portcullis_core::clock::{Clock, ManualClock, SystemClock};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::harness::{TestServer, assert_error};

/// Forwards `addr` to `upstream` until stopped.
struct Proxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Self { addr: listener.local_addr().unwrap(), upstream, tasks: Arc::default() };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let (upstream, tasks) = (self.upstream, self.tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let forward = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tasks.lock().unwrap().push(forward);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    /// Cuts every connection and closes the port (connecting is then refused).
    fn stop(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    async fn resume(&self) {
        // The aborted accept task drops its listener soon after; retry until the port is free.
        for _ in 0..200 {
            if let Ok(listener) = TcpListener::bind(self.addr).await {
                return self.serve(listener);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("cannot listen on {} again", self.addr);
    }
}

#[tokio::test]
async fn postgres_gone_is_503_and_not_ready_then_recovers() {
    let Some(db) = portcullis_store::testing::TestDatabase::create("postgres_gone").await else { return };
    let mut url = url::Url::parse(&db.url).unwrap();
    let upstream: SocketAddr =
        format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432)).parse().expect("an IP address");
    let proxy = Proxy::start(upstream).await;
    url.set_port(Some(proxy.addr.port())).unwrap();
    let proxied = url.to_string();
    let outcome = tokio::spawn(async move {
        let s = TestServer::instance(&proxied, Arc::new(ManualClock::new(SystemClock.now())), |s| s).await;
        let c = s.cc_client("default", "x", "a").await;
        let t = s.token("default", &c, None).await;
        let readyz = || s.http.get(format!("{}/readyz", s.base)).send();

        proxy.stop();
        let r = s.post_form(&s.url("default", "/oauth/token"), Some(&c), &[("grant_type", "client_credentials")]).await;
        assert!(r.headers().get("retry-after").is_some());
        assert_error(r, 503, "temporarily_unavailable").await;
        let r = s.post_form(&s.url("default", "/oauth/introspect"), Some(&c), &[("token", t.as_str())]).await;
        assert_error(r, 503, "temporarily_unavailable").await;
        assert_error(readyz().await.unwrap(), 503, "temporarily_unavailable").await;

        proxy.resume().await;
        let mut tries = 0;
        while readyz().await.unwrap().status() != 200 {
            tries += 1;
            assert!(tries < 100, "the server did not recover");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(s.is_active("default", &c, &t).await);
        s.token("default", &c, None).await;
    })
    .await;
    db.drop_database().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}
