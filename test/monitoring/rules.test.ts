// The alert rules (manifests/monitoring/ballast-rules.yaml) with Prometheus' own tool:
// - `promtool check rules` accepts the file (syntax, PromQL, templates);
// - `promtool test rules` runs ballast-rules.test.yaml, in which every alert fires for one cluster
//   and stays quiet for another (healthy, or bad for less than the alert's `for`);
// - every alert has those tests, a severity, a summary, a description and a runbook section in
//   docs/runbooks.md that its runbook_url names.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const RULES = 'manifests/monitoring/ballast-rules.yaml';
const TESTS = 'manifests/monitoring/ballast-rules.test.yaml';
const RUNBOOKS = 'docs/runbooks.md';

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

function promtool(args: string[]): { status: number | null; output: string } {
  const result = spawnSync('promtool', args, { encoding: 'utf8' });
  if (result.error !== undefined) throw new Error('promtool is not installed (apt-get install prometheus; .ci/run installs it)', { cause: result.error });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

const alerts = (parse(readFileSync(RULES, 'utf8')) as { groups: Array<{ name: string; rules: AlertRule[] }> }).groups.flatMap((group) => group.rules);

/** GitHub's anchor of a markdown heading. */
function anchorOf(heading: string): string {
  return heading.toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-');
}

describe('alert rules', () => {
  it('pass promtool check rules', () => {
    const { status, output } = promtool(['check', 'rules', RULES]);
    expect(output).toContain(`SUCCESS: ${alerts.length} rules found`);
    expect(status).toBe(0);
  });

  it('pass their promtool unit tests', () => {
    const { status, output } = promtool(['test', 'rules', TESTS]);
    expect(output).toContain('SUCCESS');
    expect(output).not.toContain('FAILED');
    expect(status).toBe(0);
  });

  it('cover at least the alerts the product promises', () => {
    expect(alerts.map((rule) => rule.alert)).toEqual(
      expect.arrayContaining([
        'BallastPartitionsUnderReplicated',
        'BallastPartitionsLost',
        'BallastNodeDown',
        'BallastBaselineChangePending',
        'BallastRebalanceStalled',
        'BallastReplicationLagHigh',
        'BallastFailoverStorm',
        'BallastOperatorNotReconciling',
      ]),
    );
  });

  it('are each tested firing and quiet', () => {
    const tests = (parse(readFileSync(TESTS, 'utf8')) as { tests: Array<{ alert_rule_test: Array<{ alertname: string; exp_alerts: unknown[] }> }> }).tests.flatMap((test) => test.alert_rule_test);
    for (const { alert } of alerts) {
      const cases = tests.filter((test) => test.alertname === alert);
      expect(cases.some((test) => test.exp_alerts.length > 0), `${alert} fires in a test`).toBe(true);
      expect(cases.some((test) => test.exp_alerts.length === 0), `${alert} stays quiet in a test`).toBe(true);
    }
  });

  it('each have a severity, a summary, a description and a runbook section', () => {
    const runbooks = readFileSync(RUNBOOKS, 'utf8');
    const anchors = new Set([...runbooks.matchAll(/^## (.+)$/gm)].map((match) => anchorOf(match[1]!)));
    for (const rule of alerts) {
      expect(['critical', 'warning', 'info'], rule.alert).toContain(rule.labels?.['severity']);
      expect(rule.annotations?.['summary'], rule.alert).toBeTruthy();
      expect(rule.annotations?.['description'], rule.alert).toBeTruthy();
      const url = rule.annotations?.['runbook_url'] ?? '';
      expect(url, rule.alert).toMatch(/\/docs\/runbooks\.md#[a-z0-9-]+$/);
      expect(anchors.has(url.split('#')[1]!), `${rule.alert}: ${RUNBOOKS} has a section for ${url}`).toBe(true);
      // Each section says what the alert means, its impact, what to check and what to do.
      const section = runbooks.split(/^## /m).find((part) => anchorOf(part.split('\n')[0]!) === url.split('#')[1]) ?? '';
      for (const heading of ['Meaning', 'Impact', 'Check', 'Act']) expect(section, `${rule.alert} runbook: ${heading}`).toMatch(new RegExp(`^\\*\\*${heading}\\.?\\*\\*`, 'm'));
    }
  });
});
