//! One loopback HTTP/1.1 listener (hyper 1, over TLS where given) that can be stopped and
//! started again on the same port: the transport under each cluster's Kubernetes API (HTTPS),
//! its Prometheus port and the control API (plain HTTP).
//!
//! Browsers are turned away here, before any handler runs: a request carrying `Origin` (sent
//! on cross-origin requests), a CORS preflight (`OPTIONS`) or a `Host` that is not loopback (a
//! DNS-rebinding page) gets a 403 with no `Access-Control-Allow-*` header, so a web page open
//! on the same machine can neither read nor drive the demo. kubectl, kube-rs and Prometheus
//! clients send none of these.
//!
//! Stopping closes the listening socket and aborts every open connection (and with them every
//! watch stream), so clients see connection refused until the listener starts again: this is
//! the "cluster down" fault. Each connection runs in its own task; handlers are async and never
//! block the runtime.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, Response, header};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::status::{self, Body};

/// How long a client may take to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A boxed response future.
pub type ResponseFuture = Pin<Box<dyn Future<Output = Response<Body>> + Send>>;

/// What answers the requests of a listener.
pub trait Handler: Send + Sync + 'static {
    fn handle(self: Arc<Self>, req: Request<Incoming>) -> ResponseFuture;

    /// The 403 a refused browser request gets, in the shape this listener's clients read.
    fn forbidden(&self, message: &str) -> Response<Body> {
        status::json_response(403, &serde_json::json!({ "error": message }))
    }
}

/// Why a request looks like it comes from a web browser, if it does.
fn browser_request<B>(req: &Request<B>) -> Option<&'static str> {
    if req.method() == Method::OPTIONS {
        return Some("CORS preflight refused: the demo answers no browser requests");
    }
    if req.headers().contains_key(header::ORIGIN) {
        return Some("cross-origin request refused: the demo answers no browser requests");
    }
    let host = match req.headers().get(header::HOST) {
        Some(h) => h.to_str().ok(),
        None => req.uri().host(),
    };
    match host {
        None if !req.headers().contains_key(header::HOST) => None,
        Some(h) if is_loopback_host(h) => None,
        _ => Some("request for another host refused: the demo serves 127.0.0.1 and localhost"),
    }
}

/// `127.0.0.1`, `localhost` or `[::1]`, with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        host.rsplit_once(':').map_or(host, |(name, _port)| name)
    };
    name == "127.0.0.1" || name == "::1" || name.eq_ignore_ascii_case("localhost")
}

struct Running {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

/// A listener on a fixed loopback address that can go down and come back.
pub struct Listener {
    addr: SocketAddr,
    /// What listens, for error messages (e.g. "Kubernetes API of demo-us-east").
    what: String,
    handler: Arc<dyn Handler>,
    /// Serves HTTPS when set.
    tls: Option<TlsAcceptor>,
    /// Cancelled when the whole demo shuts down.
    shutdown: CancellationToken,
    running: tokio::sync::Mutex<Option<Running>>,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("addr", &self.addr)
            .field("what", &self.what)
            .finish_non_exhaustive()
    }
}

/// Binds `addr` (port 0 picks a free port), naming the listener in errors (`what`, e.g.
/// "Kubernetes API of demo-us-east").
async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr} ({what}): {e}"))
}

impl Listener {
    /// Binds and starts serving (HTTPS with `tls`, plain HTTP without).
    pub async fn start(
        addr: SocketAddr,
        what: impl Into<String>,
        handler: Arc<dyn Handler>,
        tls: Option<Arc<rustls::ServerConfig>>,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Arc<Self>> {
        let what = what.into();
        let socket = bind(addr, &what).await?;
        let addr = socket.local_addr()?;
        let listener = Arc::new(Self {
            addr,
            what,
            handler,
            tls: tls.map(TlsAcceptor::from),
            shutdown: shutdown.clone(),
            running: tokio::sync::Mutex::new(None),
        });
        *listener.running.lock().await = Some(listener.spawn(socket));
        Ok(listener)
    }

    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn spawn(&self, socket: TcpListener) -> Running {
        let stop = self.shutdown.child_token();
        let task = tokio::spawn(accept_loop(
            socket,
            self.handler.clone(),
            self.tls.clone(),
            stop.clone(),
        ));
        Running { stop, task }
    }

    /// Whether the listener is accepting connections.
    pub async fn is_up(&self) -> bool {
        self.running.lock().await.is_some()
    }

    /// Closes the socket and every connection; returns once they are closed.
    pub async fn down(&self) {
        let running = self.running.lock().await.take();
        if let Some(r) = running {
            r.stop.cancel();
            // The task only ends by itself; a panic inside it is already logged by tokio.
            let _ = r.task.await;
        }
    }

    /// Listens again on the same address (a no-op when already up).
    pub async fn up(&self) -> anyhow::Result<()> {
        let mut running = self.running.lock().await;
        if running.is_some() {
            return Ok(());
        }
        let socket = bind(self.addr, &self.what).await?;
        *running = Some(self.spawn(socket));
        Ok(())
    }
}

async fn accept_loop(
    socket: TcpListener,
    handler: Arc<dyn Handler>,
    tls: Option<TlsAcceptor>,
    stop: CancellationToken,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            accepted = socket.accept() => match accepted {
                Ok((stream, _peer)) => {
                    connections.spawn(serve_connection(stream, handler.clone(), tls.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    log::warn!("demo server: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(socket);
    // Aborting the connection tasks drops their sockets: clients see the connection close.
    connections.shutdown().await;
}

async fn serve_connection(stream: TcpStream, handler: Arc<dyn Handler>, tls: Option<TlsAcceptor>) {
    let _ = stream.set_nodelay(true);
    match tls {
        None => serve_http(TokioIo::new(stream), handler).await,
        Some(acceptor) => {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls_stream)) => serve_http(TokioIo::new(tls_stream), handler).await,
                Ok(Err(e)) => log::debug!("demo server: TLS handshake failed: {e}"),
                Err(_) => log::debug!("demo server: TLS handshake timed out"),
            }
        }
    }
}

async fn serve_http<I>(io: I, handler: Arc<dyn Handler>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = service_fn(move |req: Request<Incoming>| {
        let handler = handler.clone();
        async move {
            if let Some(reason) = browser_request(&req) {
                return Ok::<_, Infallible>(handler.forbidden(reason));
            }
            Ok::<_, Infallible>(handler.handle(req).await)
        }
    });
    if let Err(e) = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(io, service)
        .await
    {
        log::debug!("demo server: connection ended: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, headers: &[(&str, &str)]) -> Request<()> {
        let mut b = Request::builder().method(method).uri("/api");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn browsers_are_recognised() {
        let ok = |h: &[(&str, &str)]| browser_request(&request(Method::GET, h)).is_none();
        assert!(ok(&[("host", "127.0.0.1:7701")]));
        assert!(ok(&[("host", "localhost:7701")]));
        assert!(ok(&[("host", "LOCALHOST")]));
        assert!(ok(&[("host", "[::1]:7701")]));
        assert!(ok(&[]), "HTTP/1.0 without Host");
        assert!(!ok(&[("host", "evil.example:7701")]), "DNS rebinding");
        assert!(!ok(&[("host", "127.0.0.1.evil.example")]));
        assert!(!ok(&[("host", "127.0.0.1:7701"), ("origin", "null")]));
        assert!(
            !ok(&[
                ("host", "127.0.0.1:7701"),
                ("origin", "http://127.0.0.1:7701")
            ]),
            "any Origin, even the server's own"
        );
        let preflight = request(Method::OPTIONS, &[("host", "127.0.0.1:7701")]);
        assert!(browser_request(&preflight).is_some());
    }
}
