use super::*;

#[test]
fn unknown_type_is_named() {
    let err = decode_client(r#"{"type":"teleport","to":3}"#).unwrap_err();
    assert_eq!(err, DecodeError::UnknownType("teleport".into()));
    assert_eq!(err.code(), ErrorCode::UnknownType);
}
