// A socket option outside `SockOpt`'s constants needs `unsafe`: the kernel
// may read through an address in its value (SO_ATTACH_FILTER, 26) or act on
// a descriptor named by number in it (SO_ATTACH_BPF).
use std::net::UdpSocket;
use uring::{SockOpt, ops::SetSockOpt};

fn main() {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let value = [0u8; 16];
    let _set = SetSockOpt::new(&socket, SockOpt::new(1, 26), &value[..]);
}
