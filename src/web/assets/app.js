// Replaced by the dashboard implementation.
fetch("api/repos").then((r) => r.json()).then((d) => {
  document.getElementById("app").textContent = `${d.repositories.length} repositories`;
});
