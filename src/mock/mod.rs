//! stub
use crate::config::Secret;
pub const DEFAULT_TOKEN: &str = "mock-token";
pub const DEFAULT_EMAIL: &str = "ops@example.com";
pub const DEFAULT_PASSWORD: &str = "mock-password";
#[derive(Debug, Clone)]
pub struct MockOptions {
    pub port: u16,
    pub token: String,
    pub email: String,
    pub password: Secret,
    pub rate_limit: u32,
    pub latency: std::time::Duration,
    pub fail_5xx: f64,
    pub fail_429: f64,
    pub fail_false: f64,
    pub drop_after_create: f64,
    pub slow_after_create: f64,
    pub slow_delay: std::time::Duration,
    pub reply_with_id: bool,
    pub seed: u64,
}
pub fn run_forever(_o: MockOptions) -> anyhow::Result<crate::Exit> {
    todo!()
}
