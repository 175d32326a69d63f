//! `peer_reader DELAY_US RCVBUF MAX PATIENCE_MS`: the reader process of
//! `uring_tests::net::late_reader`. Its standard input is a connected
//! socket: after DELAY_US microseconds it sets the socket's receive buffer
//! to RCVBUF bytes (unless 0), then reads it to its end, an error, MAX bytes
//! (unless 0) or PATIENCE_MS milliseconds without data, writing what it
//! read to its standard output.

use std::io::{Read as _, Write as _};
use std::os::fd::FromRawFd as _;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap_or(u64::MAX))
        .collect();
    let &[delay_us, rcvbuf, max, patience_ms] = &args[..] else {
        eprintln!("usage: peer_reader DELAY_US RCVBUF MAX PATIENCE_MS");
        return ExitCode::from(2);
    };
    if [delay_us, rcvbuf, max, patience_ms].contains(&u64::MAX) {
        eprintln!("peer_reader: the arguments are whole numbers");
        return ExitCode::from(2);
    }
    // SAFETY: descriptor 0 is the socket the test gave this process as its
    // standard input, owned by nothing else here.
    let mut socket = unsafe { std::net::TcpStream::from_raw_fd(0) };
    std::thread::sleep(Duration::from_micros(delay_us));
    if rcvbuf > 0 {
        let value = i32::try_from(rcvbuf).unwrap_or(i32::MAX);
        if let Err(e) =
            uring_tests::set_int_option(&socket, libc::SOL_SOCKET, libc::SO_RCVBUF, value)
        {
            eprintln!("peer_reader: SO_RCVBUF: {e}");
            return ExitCode::FAILURE;
        }
    }
    if socket
        .set_read_timeout(Some(Duration::from_millis(patience_ms.max(1))))
        .is_err()
    {
        eprintln!("peer_reader: its standard input is not a socket");
        return ExitCode::FAILURE;
    }
    let mut out = std::io::stdout().lock();
    let mut chunk = vec![0u8; 256 << 10];
    let mut total = 0u64;
    while max == 0 || total < max {
        match socket.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(k) => {
                if out.write_all(&chunk[..k]).is_err() {
                    return ExitCode::FAILURE;
                }
                total += k as u64;
            }
        }
    }
    if out.flush().is_err() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
