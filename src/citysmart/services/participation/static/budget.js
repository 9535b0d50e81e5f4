// Live running total on a budget's ballot: sums the ticked projects' costs as they change
// and warns when over the budget or the maximum number of projects. The form still posts
// to the server, which checks the same rules; without script the saved total is shown.
(function () {
  "use strict";
  const form = document.getElementById("ballot");
  const spent = document.getElementById("spent");
  const remaining = document.getElementById("remaining");
  const warning = document.getElementById("ballot-warning");
  if (!form || !spent || !remaining || !warning) {
    return;
  }
  const total = Number(form.dataset.total);
  const max = form.dataset.max ? Number(form.dataset.max) : null;
  const format = new Intl.NumberFormat("en-US");
  const boxes = Array.from(form.querySelectorAll('input[type="checkbox"][name="project"]'));

  function update() {
    let sum = 0;
    let count = 0;
    for (const box of boxes) {
      if (box.checked) {
        sum += Number(box.dataset.cost);
        count += 1;
      }
    }
    spent.textContent = format.format(sum);
    remaining.textContent = format.format(total - sum);
    const problems = [];
    if (sum > total) {
      problems.push("Over the budget by " + format.format(sum - total) + " KRW (예산 초과)");
    }
    if (max !== null && count > max) {
      problems.push("At most " + max + " projects (최대 " + max + "개)");
    }
    warning.textContent = problems.join(" · ");
    warning.hidden = problems.length === 0;
  }

  for (const box of boxes) {
    box.addEventListener("change", update);
  }
  update();
})();
