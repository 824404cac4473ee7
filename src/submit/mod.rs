//! stub
pub fn run(
    _c: crate::config::SubmitConfig,
    _t: &crate::logging::Terminal,
) -> anyhow::Result<crate::Exit> {
    todo!()
}
