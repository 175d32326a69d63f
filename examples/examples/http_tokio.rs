//! `cargo run --release --example http_tokio -- ADDR [THREADS]`: the
//! baseline of `http`, the same hyper service on tokio's epoll-based
//! `TcpStream`, one current-thread runtime per thread with its own
//! `SO_REUSEPORT` listener.

use std::process::ExitCode;

use uring_examples::net::{addr_threads, hello, on_threads, reuseport_listener, runtime};

async fn serve(addr: std::net::SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(reuseport_listener(addr)?)?;
    loop {
        let (conn, _) = listener.accept().await?;
        let _ = conn.set_nodelay(true);
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(conn);
            let _ = hyper::server::conn::http1::Builder::new()
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
    println!("http_tokio: listening on {addr} with {threads} thread(s)");
    let served = on_threads(threads, move |_| runtime()?.block_on(serve(addr)));
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("http_tokio: {e}");
            ExitCode::FAILURE
        }
    }
}
