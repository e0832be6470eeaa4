//! `dmcts notification encode|decode` reproduce and verify the digest's test vector (§19.1).
use std::process::Command;

const VECTOR: &str =
    "230018646d7372762d303111001212341f117ed4fa666d6ac142728090d3e5c61b2e51661f1372e8165e336b5567a13eb0f8146553f10010";

fn dmcts(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dmcts")).args(args).output().expect("dmcts runs")
}

#[test]
fn encode_reproduces_the_test_vector() {
    let out = dmcts(&[
        "notification",
        "encode",
        "--server-id",
        "dmsrv-01",
        "--con-type",
        "0",
        "--notification-id",
        "4660",
        "--timestamp",
        "1700000000",
        "--req-mos",
        "--secret",
        "test-noti-secret",
        "--auth-data",
        "test-noti-authdata",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), VECTOR);
}

#[test]
fn decode_verifies_the_test_vector() {
    let out =
        dmcts(&["notification", "decode", VECTOR, "--secret", "test-noti-secret", "--auth-data", "test-noti-authdata"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["fields"]["server_id"], "dmsrv-01");
    assert_eq!(v["fields"]["notification_id"], 4660);
    assert_eq!(v["digest"]["verified"], true);
}

#[test]
fn decode_with_wrong_secret_exits_1_and_garbage_exits_2() {
    let out = dmcts(&["notification", "decode", VECTOR, "--secret", "other", "--auth-data", "test-noti-authdata"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["digest"]["verified"], false);
    let out = dmcts(&["notification", "decode", "zz12"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("byte 0"));
    let out = dmcts(&["notification", "decode", "23"]);
    assert_eq!(out.status.code(), Some(2));
}
