//! The body of an HTTP/1.0 response read off a raw socket: the run reads
//! etcd's `/metrics` and pprof endpoints inside the server's container with
//! bash's `/dev/tcp` (the images have no curl), so the status line and the
//! headers come along. HTTP/1.0 makes the server close the connection
//! instead of sending chunks, so the body is everything after the headers.

/// The body of a `200` response; any other answer is an error naming its status line.
pub fn ok_body(response: &[u8]) -> Result<&[u8], String> {
    let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Err(format!("not an HTTP response ({} bytes without the end of the headers)", response.len()));
    };
    let head = String::from_utf8_lossy(&response[..end]);
    let status = head.lines().next().unwrap_or_default();
    match status.split_whitespace().nth(1) {
        Some("200") if status.starts_with("HTTP/1.") => Ok(&response[end + 4..]),
        _ => Err(format!("the server answered `{status}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_and_failures() {
        let cases: &[(&[u8], Result<&[u8], &str>)] = &[
            (b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nup 1\n", Ok(b"up 1\n")),
            (b"HTTP/1.1 200 OK\r\n\r\n\x1f\x8b\r\n\r\nbinary", Ok(b"\x1f\x8b\r\n\r\nbinary")),
            (b"HTTP/1.0 200 OK\r\n\r\n", Ok(b"")),
            (b"HTTP/1.0 404 Not Found\r\n\r\n404 page not found\n", Err("the server answered `HTTP/1.0 404 Not Found`")),
            (b"SSH-2.0-OpenSSH\r\n\r\n", Err("the server answered `SSH-2.0-OpenSSH`")),
            (b"", Err("not an HTTP response (0 bytes without the end of the headers)")),
            (b"HTTP/1.0 200 OK\r\n", Err("not an HTTP response (17 bytes without the end of the headers)")),
        ];
        for (response, want) in cases {
            assert_eq!(ok_body(response), want.map_err(String::from), "{}", String::from_utf8_lossy(response));
        }
    }
}
