// Dashboard live numbers: one socket per page, pushed snapshots of the study's progress.
// Every value is written with textContent; nothing from the server becomes markup.
(function () {
  "use strict";

  const status = document.querySelector("[data-live-socket]");
  if (!status) return;
  const path = status.getAttribute("data-live-socket");
  let delay = 1000;

  function valueAt(snapshot, dotted) {
    return dotted.split(".").reduce((node, key) => (node == null ? undefined : node[key]), snapshot);
  }

  function setConnected(connected) {
    status.setAttribute("data-connected", connected ? "true" : "false");
    status.textContent = connected ? "Live" : "Live updates: reconnecting…";
  }

  function applyNumbers(snapshot) {
    document.querySelectorAll("[data-live]").forEach((el) => {
      const value = valueAt(snapshot, el.getAttribute("data-live"));
      if (value !== undefined && value !== null) el.textContent = String(value);
    });
    document.querySelectorAll("[data-live-value]").forEach((el) => {
      const value = valueAt(snapshot, el.getAttribute("data-live-value"));
      if (typeof value === "number") el.value = value;
    });
  }

  function jobRow(job) {
    const row = document.createElement("tr");
    const label = document.createElement("td");
    label.textContent = job.label;
    const state = document.createElement("td");
    const badge = document.createElement("span");
    badge.setAttribute("data-job-state", job.id);
    state.appendChild(badge);
    const bar = document.createElement("td");
    const progress = document.createElement("progress");
    progress.className = "progress";
    progress.max = 100;
    progress.setAttribute("data-job-id", job.id);
    bar.appendChild(progress);
    const message = document.createElement("td");
    message.setAttribute("data-job-message", job.id);
    row.append(label, state, bar, message);
    return row;
  }

  const FINISHED = ["done", "failed"];

  function applyJobs(jobs) {
    const table = document.querySelector("[data-live-jobs]");
    (jobs || []).forEach((job) => {
      // A page showing an unfinished job's details is rebuilt by the server once it ends.
      if (FINISHED.includes(job.state) && document.querySelector(`[data-reload-when-finished="${job.id}"]`)) {
        window.location.reload();
        return;
      }
      if (table && !document.querySelector(`[data-job-state="${job.id}"]`)) {
        const empty = table.querySelector("td[colspan]");
        if (empty) empty.parentElement.remove();
        table.prepend(jobRow(job));
      }
      document.querySelectorAll(`[data-job-state="${job.id}"]`).forEach((el) => {
        el.textContent = job.state;
        el.className = `state state--${job.state}`;
      });
      document.querySelectorAll(`progress[data-job-id="${job.id}"]`).forEach((el) => {
        if (job.percent === null) el.removeAttribute("value");
        else el.value = job.percent;
      });
      document.querySelectorAll(`[data-job-message="${job.id}"]`).forEach((el) => {
        el.textContent = job.message;
      });
    });
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${window.location.host}${path}`);
    socket.addEventListener("open", () => {
      delay = 1000;
      setConnected(true);
    });
    socket.addEventListener("message", (event) => {
      const frame = JSON.parse(event.data);
      if (frame.type !== "progress" || !frame.progress) return;
      applyNumbers(frame.progress);
      applyJobs(frame.progress.jobs);
    });
    socket.addEventListener("close", (event) => {
      setConnected(false);
      if (event.code === 4403) {
        status.textContent = "Live updates are not available (signed out?).";
        return;
      }
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    });
  }

  document.querySelectorAll("[data-copy]").forEach((button) => {
    button.addEventListener("click", () => {
      const field = document.getElementById(button.getAttribute("data-copy"));
      field.select();
      if (navigator.clipboard) navigator.clipboard.writeText(field.value).catch(() => {});
      button.textContent = "Copied";
    });
  });

  connect();
})();
