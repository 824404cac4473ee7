//! The Create-a-Broadcast request body, typed exactly as it goes on the wire.
//!
//! The API reference's table mixes wire types: ids and counts that are plain integers in one
//! field are strings of digits in the next (`phone_number_list` is a number, `time_group` is a
//! string). The struct mirrors that table field by field, so serialising it with serde yields the
//! contract's body and nothing else; only `input` builds one, after every rule has passed.

use serde::{Deserialize, Serialize};

/// One validated broadcast, ready to be sent as the JSON body of `POST /v1/broadcast`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BroadcastRequest {
    pub name: String,
    pub description: String,
    pub phone_number_list: u64,
    /// `ivr||<id>` or `auto_attend||<id>`, always with the double bar.
    pub destination: String,
    /// Seconds a call rings, a string of digits, at least 40.
    pub timeout: String,
    pub concurrent_limit: String,
    pub retry_after_minutes: Vec<u32>,
    pub caller_id_number: String,
    pub number_of_retry: String,
    /// `yyyy-mm-dd hh:mm:ss`, account local time.
    pub start_date_time: String,
    pub end_date_time: String,
    pub time_group: String,
    pub dialstatus: Vec<u8>,
    pub retry_dialstatus: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_to_the_contract_body_with_its_wire_types() {
        let req = BroadcastRequest {
            name: "Campaign 1".into(),
            description: "Details of campaign 1".into(),
            phone_number_list: 214864,
            destination: "ivr||7926".into(),
            timeout: "40".into(),
            concurrent_limit: "5".into(),
            retry_after_minutes: vec![5, 10],
            caller_id_number: "918069000000".into(),
            number_of_retry: "2".into(),
            start_date_time: "2026-12-02 09:00:00".into(),
            end_date_time: "2026-12-02 18:00:00".into(),
            time_group: "1234".into(),
            dialstatus: vec![1, 2, 3, 4, 5],
            retry_dialstatus: vec![1, 3],
        };
        let expected = r#"{"name":"Campaign 1","description":"Details of campaign 1","phone_number_list":214864,
 "destination":"ivr||7926","timeout":"40","concurrent_limit":"5","retry_after_minutes":[5,10],
 "caller_id_number":"918069000000","number_of_retry":"2","start_date_time":"2026-12-02 09:00:00",
 "end_date_time":"2026-12-02 18:00:00","time_group":"1234","dialstatus":[1,2,3,4,5],
 "retry_dialstatus":[1,3]}"#;
        let expected: serde_json::Value = serde_json::from_str(expected).unwrap();
        assert_eq!(serde_json::to_value(&req).unwrap(), expected);
    }
}
