//! `cargo run --release --example echo_tokio -- ADDR THREADS`: the
//! baseline of the network benchmark, a TCP echo server on tokio's
//! epoll-based `TcpStream`, built like `echo_server`: one current-thread
//! runtime per thread, each with its own `SO_REUSEPORT` listener.

use std::io;
use std::process::ExitCode;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uring_examples::net::{addr_threads, on_threads, reuseport_listener, runtime};

async fn serve(addr: std::net::SocketAddr) -> io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(reuseport_listener(addr)?)?;
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
    println!("echo_tokio: listening on {addr} with {threads} thread(s)");
    let served = on_threads(threads, move |_| runtime()?.block_on(serve(addr)));
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_tokio: {e}");
            ExitCode::FAILURE
        }
    }
}
