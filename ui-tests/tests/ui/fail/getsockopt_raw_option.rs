// An option read back outside `SockOpt`'s constants needs `unsafe`: the
// kernel counts SO_GET_FILTER's length (26) in 8-byte filter instructions
// and writes the whole filter, past a shorter value.
use std::net::UdpSocket;
use uring::{SockOpt, ops::GetSockOpt};

fn main() {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut value = [0u8; 4];
    let _get = GetSockOpt::new(&socket, SockOpt::new(1, 26), &mut value[..]);
}
