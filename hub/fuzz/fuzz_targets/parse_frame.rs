//! Fuzzes the parser of client frames: whatever arrives in a text frame, parsing
//! must not panic; a frame that parses must serialize back to itself; a frame
//! that does not must yield a valid `error` frame.
//!
//! Run (from `hub/fuzz`, with the seed frames and the token dictionary):
//!
//! ```text
//! mkdir -p corpus/parse_frame
//! cargo +nightly fuzz run parse_frame corpus/parse_frame seeds/parse_frame -- \
//!     -dict=frames.dict -max_total_time=60
//! ```

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigor_hub::protocol;

fuzz_target!(|data: &[u8]| {
    // WebSocket text frames are UTF-8 (the WebSocket layer refuses anything else).
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match protocol::parse(text) {
        Ok(frame) => {
            let again = protocol::parse(&frame.to_json().to_string());
            assert_eq!(again.as_ref(), Ok(&frame), "a parsed frame round-trips");
        }
        Err(error) => {
            let answer: serde_json::Value =
                serde_json::from_str(&error.to_frame()).expect("the error frame is JSON");
            assert_eq!(answer["type"], "error");
        }
    }
});
