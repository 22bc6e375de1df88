//! Fake-GitHub worlds the tests share: the `octo/api` repository most tests start from.

use chrono::Utc;
use fake_github::{Repo, Run, Workflow};

/// `octo/api` (GitHub id `id`) with its `CI` workflow (id 10) and three completed runs,
/// 1001–1003, started 30, 20 and 10 hours ago, 4, 5 and 6 minutes long, ending as
/// `conclusions` says.
pub fn octo_api(id: u64, conclusions: [&str; 3]) -> Repo {
    let now = Utc::now();
    let mut repo =
        Repo::new(id, "octo", "api").workflow(Workflow::new(10, "CI", ".github/workflows/ci.yml"));
    for (i, conclusion) in conclusions.into_iter().enumerate() {
        let i = i as i64;
        repo = repo.run(Run::completed(
            1001 + i as u64,
            10,
            "CI",
            conclusion,
            now - chrono::Duration::hours(30 - 10 * i),
            chrono::Duration::minutes(4 + i),
        ));
    }
    repo
}
