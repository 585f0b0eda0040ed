//! The pooled client: connection reuse (HTTP/1.1 keep-alive, HTTP/2
//! multiplexing), the pool's limits, timeouts and errors.
#![cfg(not(miri))] // sockets

mod support;

use std::io::Write;
use std::rc::Rc;
use std::time::{Duration, Instant};

use hearth_hyper::client::{Builder, Client, ErrorKind};
use http_body_util::BodyExt;
use hyper::Version;
use support::{raw_server, Counting};

/// GETs `url` and returns the body as text.
async fn get(client: &Client, url: &str) -> String {
    let response = client.get(url).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

#[test]
fn ten_thousand_requests_over_a_few_kept_alive_connections() {
    const TASKS: usize = 4;
    const REQUESTS: usize = 10_000;
    let server = Counting::start(2, Duration::ZERO);
    let url = Rc::new(server.url("/reuse"));
    let client = Client::new();
    let done = hearth::block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let (client, url) = (client.clone(), url.clone());
                hearth::spawn_local(async move {
                    for _ in 0..REQUESTS / TASKS {
                        assert_eq!(get(&client, &url).await, "/reuse");
                    }
                    REQUESTS / TASKS
                })
            })
            .collect();
        let mut done = 0;
        for t in tasks {
            done += t.await.unwrap();
        }
        done
    });
    assert_eq!(done, REQUESTS);
    let accepted = server.accepted();
    assert!(
        (1..=TASKS).contains(&accepted),
        "{accepted} connections for {REQUESTS} requests from {TASKS} tasks"
    );
}

#[test]
fn http2_multiplexes_concurrent_requests_over_one_connection() {
    const REQUESTS: usize = 64;
    const DELAY: Duration = Duration::from_millis(100);
    let server = Counting::start(2, DELAY);
    let client = Builder::new().http2_only(true).build();
    let start = Instant::now();
    hearth::block_on(async {
        let tasks: Vec<_> = (0..REQUESTS)
            .map(|i| {
                let client: Client = client.clone();
                let url = server.url(&format!("/{i}"));
                hearth::spawn_local(async move {
                    let response = client.get(url.as_str()).await.unwrap();
                    assert_eq!(response.version(), Version::HTTP_2);
                    let body = response.into_body().collect().await.unwrap().to_bytes();
                    assert_eq!(body, format!("/{i}"));
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    // Concurrent: far less than one delay per request.
    assert!(start.elapsed() < DELAY * 10, "took {:?}", start.elapsed());
    assert_eq!(server.accepted(), 1);
}

#[test]
fn at_most_max_idle_per_host_connections_are_kept() {
    let server = Counting::start(2, Duration::from_millis(50));
    let client: Client = Builder::new().pool_max_idle_per_host(2).build();
    let url = server.url("/");
    let burst = || async {
        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let (client, url) = (client.clone(), url.clone());
                hearth::spawn_local(async move { get(&client, &url).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    };
    hearth::block_on(async {
        burst().await;
        assert_eq!(server.accepted(), 6);
        // Two kept, four new.
        burst().await;
        assert_eq!(server.accepted(), 10);
    });
}

#[test]
fn idle_connections_expire() {
    let server = Counting::start(1, Duration::ZERO);
    let client: Client = Builder::new()
        .pool_idle_timeout(Duration::from_millis(100))
        .build();
    let url = server.url("/");
    hearth::block_on(async {
        get(&client, &url).await;
        get(&client, &url).await;
        assert_eq!(server.accepted(), 1, "reused while fresh");
        hearth::time::sleep(Duration::from_millis(300)).await;
        get(&client, &url).await;
        assert_eq!(server.accepted(), 2, "expired, so a new connection");
    });
}

#[test]
fn a_connection_the_server_closed_is_not_reused() {
    // Keep-alive answers, but the server closes after each one.
    let addr = raw_server(|s| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    });
    let client = Client::new();
    let url = format!("http://{addr}/");
    hearth::block_on(async {
        for _ in 0..5 {
            assert_eq!(get(&client, &url).await, "ok");
            // Let the close arrive.
            hearth::time::sleep(Duration::from_millis(20)).await;
        }
    });
}

#[test]
fn a_refused_connection_is_a_connect_error() {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap(); // and closed again
    let err = hearth::block_on(Client::new().get(format!("http://{addr}/").as_str())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect);
    assert!(err.is_connect() && !err.is_timeout());
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("could not connect to {addr}: ")),
        "{message}"
    );
    assert!(message.to_lowercase().contains("refused"), "{message}");
}

#[test]
fn an_unknown_host_is_a_dns_error() {
    let err = hearth::block_on(Client::new().get("http://nothing.invalid/")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Dns, "{err}");
    assert!(
        err.to_string()
            .starts_with("could not resolve `nothing.invalid`"),
        "{err}"
    );
}

#[test]
fn uris_that_cannot_be_sent_are_invalid() {
    let client = Client::new();
    for uri in ["/no/host", "ftp://example.com/", "not a uri"] {
        let err = hearth::block_on(client.get(uri)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidUri, "{uri}: {err}");
        assert!(err.to_string().starts_with("invalid request URI"), "{err}");
    }
    let err = hearth::block_on(client.get("/no/host")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid request URI `/no/host`: not an absolute URI (no scheme)"
    );
}

/// A listener whose accept queue is full: further SYNs are dropped, so a
/// connection attempt hangs.
fn black_hole() -> (
    socket2::Socket,
    Vec<std::net::TcpStream>,
    std::net::SocketAddr,
) {
    use socket2::{Domain, Socket, Type};
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    listener
        .bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..16 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(s) => fillers.push(s),
            Err(_) => return (listener, fillers, addr),
        }
    }
    panic!("the accept queue never filled up");
}

#[test]
fn connect_timeout() {
    let (_listener, _fillers, addr) = black_hole();
    let client: Client = Builder::new()
        .connect_timeout(Duration::from_millis(200))
        .build();
    let start = Instant::now();
    let err = hearth::block_on(client.get(format!("http://{addr}/").as_str())).unwrap_err();
    let took = start.elapsed();
    assert_eq!(err.kind(), ErrorKind::ConnectTimeout, "{err}");
    assert!(err.is_timeout() && err.is_connect());
    assert_eq!(
        err.to_string(),
        format!("connecting to {addr} timed out (after 200ms)")
    );
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[test]
fn request_timeout() {
    // Reads the request, never answers (holds the socket a while).
    let addr = raw_server(|_s| std::thread::sleep(Duration::from_secs(5)));
    let client: Client = Builder::new()
        .request_timeout(Duration::from_millis(200))
        .build();
    let start = Instant::now();
    let err = hearth::block_on(client.get(format!("http://{addr}/").as_str())).unwrap_err();
    let took = start.elapsed();
    assert_eq!(err.kind(), ErrorKind::RequestTimeout, "{err}");
    assert!(err.is_timeout() && !err.is_connect());
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[test]
fn a_server_closing_before_the_response_is_an_http_error() {
    let addr = raw_server(|s| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-le");
    });
    let err = hearth::block_on(Client::new().get(format!("http://{addr}/").as_str())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Http, "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("HTTP exchange with {addr} failed: ")),
        "{err}"
    );
}

#[test]
fn a_server_closing_mid_body_fails_the_body_and_the_client_goes_on() {
    let addr = raw_server(|s| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly this");
    });
    let client = Client::new();
    let url = format!("http://{addr}/");
    hearth::block_on(async {
        for _ in 0..3 {
            let response = client.get(url.as_str()).await.unwrap();
            assert_eq!(response.status(), 200);
            let err = response.into_body().collect().await.unwrap_err();
            assert!(err.to_string().contains("body"), "{err}");
        }
    });
}
