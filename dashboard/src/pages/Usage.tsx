// Usage over time as plain SVG: jobs per day (bars, completed and failed stacked) and the credit balance
// at each day's end (a line). Each chart has a text alternative and its data as a table.
import * as api from "../api";
import { Banner, useLoad, Table } from "../ui";

interface Day {
  date: string;
  jobs_submitted: number;
  jobs_completed: number;
  jobs_failed: number;
  credits_spent: number;
  credits_added: number;
  balance: number;
}

const W = 640;
const H = 200;
const PAD = { l: 36, r: 8, t: 10, b: 24 };

function ticks(max: number): number[] {
  const step = Math.max(1, Math.ceil(max / 4));
  return [0, step, 2 * step, 3 * step, 4 * step];
}

/** One slot per day across the plot, and a value axis from 0 to a round top above the largest value. */
function scales(days: Day[], value: (d: Day) => number) {
  const top = ticks(Math.max(4, ...days.map(value)))[4];
  const step = (W - PAD.l - PAD.r) / days.length;
  return {
    top,
    step,
    x: (i: number) => PAD.l + step * i + step / 2,
    y: (v: number) => H - PAD.b - ((H - PAD.t - PAD.b) * v) / top,
  };
}

function Axes(props: { max: number; days: Day[]; y: (v: number) => number; x: (i: number) => number }) {
  return (
    <g class="axes" aria-hidden="true">
      {ticks(props.max).map((t) => (
        <g key={t}>
          <line x1={PAD.l} x2={W - PAD.r} y1={props.y(t)} y2={props.y(t)} />
          <text x={PAD.l - 4} y={props.y(t) + 4} text-anchor="end">
            {t}
          </text>
        </g>
      ))}
      {props.days.map((d, i) =>
        i % 7 === props.days.length % 7 || i === props.days.length - 1 ? (
          <text key={d.date} x={props.x(i)} y={H - 6} text-anchor="middle">
            {d.date.slice(5)}
          </text>
        ) : null,
      )}
    </g>
  );
}

export function JobsChart(props: { days: Day[] }) {
  const { days } = props;
  const { top, step: bw, x, y } = scales(days, (d) => d.jobs_submitted);
  const total = days.reduce((s, d) => s + d.jobs_submitted, 0);
  return (
    <figure>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby="jobs-chart-title" class="chart" data-testid="jobs-chart">
        <title id="jobs-chart-title">{`Jobs per day over the last ${days.length} days: ${total} submitted`}</title>
        <Axes max={top} days={days} x={x} y={y} />
        {days.map((d, i) => {
          const other = d.jobs_submitted - d.jobs_completed - d.jobs_failed;
          let base = 0;
          return (
            <g key={d.date} data-date={d.date} data-jobs={d.jobs_submitted}>
              {[
                ["done", d.jobs_completed],
                ["failed", d.jobs_failed],
                ["other", other],
              ].map(([cls, v]) => {
                const h = y(base) - y(base + (v as number));
                const rect = (v as number) > 0 ? <rect key={cls} class={`bar ${cls}`} x={x(i) - bw * 0.35} width={bw * 0.7} y={y(base + (v as number))} height={h} /> : null;
                base += v as number;
                return rect;
              })}
            </g>
          );
        })}
      </svg>
      <figcaption>
        <span class="key done">completed</span> <span class="key failed">failed</span> <span class="key other">pending, running or cancelled</span>
      </figcaption>
    </figure>
  );
}

export function CreditsChart(props: { days: Day[] }) {
  const { days } = props;
  const { top, x, y } = scales(days, (d) => d.balance);
  const points = days.map((d, i) => `${x(i).toFixed(1)},${y(d.balance).toFixed(1)}`).join(" ");
  return (
    <figure>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby="credits-chart-title" class="chart" data-testid="credits-chart">
        <title id="credits-chart-title">{`Credit balance at the end of each day; now ${days[days.length - 1]?.balance ?? 0}`}</title>
        <Axes max={top} days={days} x={x} y={y} />
        <polyline class="line" points={points} />
        {days.map((d, i) => (
          <circle key={d.date} class="dot" cx={x(i)} cy={y(d.balance)} r={2.5} data-date={d.date} data-balance={d.balance} />
        ))}
      </svg>
    </figure>
  );
}

export function UsagePage() {
  const { data, error } = useLoad(() => api.get<Day[]>("/usage/daily?days=30"), []);
  return (
    <main id="main">
      <h1>Usage</h1>
      <Banner error={error} />
      {data && (
        <>
          <section class="card" aria-labelledby="jobs-per-day">
            <h2 id="jobs-per-day">Jobs per day</h2>
            <JobsChart days={data} />
          </section>
          <section class="card" aria-labelledby="credits-over-time">
            <h2 id="credits-over-time">Credits over time</h2>
            <CreditsChart days={data} />
          </section>
          <details>
            <summary>Data</summary>
            <Table headers={["Day (UTC)", "Submitted", "Completed", "Failed", "Credits spent", "Credits added", "Balance"]}>
                  {data.map((d) => (
                    <tr key={d.date}>
                      <td>{d.date}</td>
                      <td>{d.jobs_submitted}</td>
                      <td>{d.jobs_completed}</td>
                      <td>{d.jobs_failed}</td>
                      <td>{d.credits_spent}</td>
                      <td>{d.credits_added}</td>
                      <td>{d.balance}</td>
                    </tr>
                  ))}
            </Table>
          </details>
        </>
      )}
    </main>
  );
}
