//! `cargo run --release --example http_tokio -- ADDR [THREADS]`: the
//! baseline of `http`, the same hyper service on tokio's epoll-based
//! `TcpStream`, one current-thread runtime per thread with its own
//! `SO_REUSEPORT` listener.

use std::process::ExitCode;

use uring_examples::net::{addr_threads, hello, reuseport_listener, runtime, serve_threads};

async fn serve(listener: tokio::net::TcpListener) -> std::io::Result<()> {
    loop {
        let (conn, _) = listener.accept().await?;
        let _ = conn.set_nodelay(true);
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(conn);
            // Half-closes kept: a client that shuts its sending side
            // after its request (`nc -N`, HTTP/1.0 tools) still gets the
            // answer, whenever its end of stream is read.
            let _ = hyper::server::conn::http1::Builder::new()
                .half_close(true)
                .serve_connection(io, hyper::service::service_fn(hello))
                .await;
        });
    }
}

fn main() -> ExitCode {
    let (addr, threads) = match addr_threads("usage: http_tokio ADDR [THREADS]") {
        Ok(args) => args,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    // Each thread binds its own listener and reports it before any is
    // announced: with port 0, the later threads bind the port the first
    // one got.
    serve_threads(
        "http_tokio",
        addr,
        vec![(); threads],
        |(), addr, listening| {
            runtime()?.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(reuseport_listener(addr)?)?;
                listening.on(listener.local_addr()?);
                serve(listener).await
            })
        },
    )
}
