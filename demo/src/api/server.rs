//! One loopback HTTP/1.1 listener (hyper 1) that can be stopped and started again on the same
//! port: the transport under each cluster's Kubernetes API, its Prometheus port and the
//! control API.
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

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use super::status::Body;

/// A boxed response future.
pub type ResponseFuture = Pin<Box<dyn Future<Output = Response<Body>> + Send>>;

/// What answers the requests of a listener.
pub trait Handler: Send + Sync + 'static {
    fn handle(self: Arc<Self>, req: Request<Incoming>) -> ResponseFuture;
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
    /// Binds and starts serving.
    pub async fn start(
        addr: SocketAddr,
        what: impl Into<String>,
        handler: Arc<dyn Handler>,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Arc<Self>> {
        let what = what.into();
        let socket = bind(addr, &what).await?;
        let addr = socket.local_addr()?;
        let listener = Arc::new(Self {
            addr,
            what,
            handler,
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
        let task = tokio::spawn(accept_loop(socket, self.handler.clone(), stop.clone()));
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

async fn accept_loop(socket: TcpListener, handler: Arc<dyn Handler>, stop: CancellationToken) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            accepted = socket.accept() => match accepted {
                Ok((stream, _peer)) => {
                    connections.spawn(serve_connection(stream, handler.clone()));
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

async fn serve_connection(stream: TcpStream, handler: Arc<dyn Handler>) {
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |req| {
        let handler = handler.clone();
        async move { Ok::<_, Infallible>(handler.handle(req).await) }
    });
    if let Err(e) = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service)
        .await
    {
        log::debug!("demo server: connection ended: {e}");
    }
}
