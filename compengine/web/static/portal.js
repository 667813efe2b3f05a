// compengine portal: the only script. Polls a running close job's progress (no framework, no CDN).
(function () {
  var box = document.getElementById("job");
  if (!box || box.getAttribute("data-state") !== "running") return;
  var id = box.getAttribute("data-job");
  function text(elId, value) { var el = document.getElementById(elId); if (el) el.textContent = value || ""; }
  function poll() {
    fetch("/api/jobs/" + encodeURIComponent(id), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (job) {
        text("job-state", job.state);
        text("job-progress", job.progress);
        text("job-seconds", job.seconds + " s");
        text("job-result", job.result);
        text("job-error", job.error);
        box.setAttribute("data-state", job.state);
        if (job.state === "running") setTimeout(poll, 500);
      })
      .catch(function () { setTimeout(poll, 2000); });
  }
  poll();
})();
