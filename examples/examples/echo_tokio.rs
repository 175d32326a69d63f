//! `cargo run --release --example echo_tokio -- ADDR THREADS`: the
//! baseline of the network benchmark, a TCP echo server on tokio's
//! epoll-based `TcpStream`, built like `echo_server`: one current-thread
//! runtime per thread, each with its own `SO_REUSEPORT` listener.

use std::io;
use std::process::ExitCode;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uring_examples::net::{addr_threads, reuseport_listener, runtime, serve_threads};

async fn serve(listener: tokio::net::TcpListener) -> io::Result<()> {
    loop {
        let (mut conn, _) = listener.accept().await?;
        let _ = conn.set_nodelay(true);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                match conn.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if conn.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
}

fn main() -> ExitCode {
    let (addr, threads) = match addr_threads("usage: echo_tokio ADDR [THREADS]") {
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
        "echo_tokio",
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
