/**
 * The signature doctor: paste what the server verified (URL, parameters, X-Twilio-Signature,
 * optionally a token) and see every cause `roomgate diagnose` finds. The token and signature go
 * to the API in the request body only; the page never stores them.
 */
import { post } from '../api.js';
import { h, replace } from '../dom.js';
import type { Page } from '../main.js';

interface Diagnosis {
  match: boolean;
  causes: string[];
  explanation: string;
  matchingUrl: string | null;
  secretId: string | null;
}

const CAUSES: Record<string, string> = {
  scheme: 'Scheme: Twilio called https but the server rebuilt http (or the reverse) — a TLS-terminating proxy.',
  host: 'Host: the server used another host name than the one Twilio called.',
  port: 'Port: a port was added or dropped (:443, :80, or the internal port).',
  'path-prefix': 'Path prefix: a proxy stripped or added a path prefix.',
  'query-encoding': 'Query encoding: the query string was re-encoded.',
  parameters: 'Parameters: a parameter was changed, added or is missing.',
  're-split': 'Re-split: the boundary between a name and its value moved (Twilio does not sign the boundaries).',
  token: 'Token: the signature was made with another auth token.',
  unknown: 'Unknown: none of the variants tried matches.',
};

/** `Name=Value` per line; or one form body `a=1&b=2`. */
export function parseParams(text: string): { name: string; value: string }[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  if (!trimmed.includes('\n') && trimmed.includes('&')) {
    return [...new URLSearchParams(trimmed)].map(([name, value]) => ({ name, value }));
  }
  return trimmed.split(/\r?\n/).flatMap((line) => {
    if (line.trim() === '') return [];
    const at = line.indexOf('=');
    return at < 0 ? [{ name: line, value: '' }] : [{ name: line.slice(0, at), value: line.slice(at + 1) }];
  });
}

export const doctorPage: Page = (main) => {
  const field = (id: string, label: string, control: HTMLElement, help?: string) =>
    h('div', { class: 'field' }, h('label', { for: id }, label), control, help ? h('p', { class: 'help', id: `${id}-help` }, help) : null);
  const url = h('input', {
    id: 'doctor-url',
    name: 'url',
    type: 'url',
    required: true,
    placeholder: 'https://api.example.com/webhooks/twilio/video',
    'aria-describedby': 'doctor-url-help',
  });
  const params = h('textarea', {
    id: 'doctor-params',
    name: 'params',
    rows: 8,
    spellcheck: 'false',
    'aria-describedby': 'doctor-params-help',
  });
  const signature = h('input', {
    id: 'doctor-signature',
    name: 'signature',
    type: 'text',
    required: true,
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const token = h('input', {
    id: 'doctor-token',
    name: 'token',
    type: 'password',
    autocomplete: 'off',
    'aria-describedby': 'doctor-token-help',
  });
  const result = h('div', { id: 'diagnosis', 'aria-live': 'polite' });
  main.append(
    h('h1', {}, 'Signature doctor'),
    h(
      'form',
      {
        class: 'card',
        onsubmit: async (event: Event) => {
          event.preventDefault();
          replace(result, h('p', { role: 'status' }, 'Diagnosing…'));
          try {
            const answer = await post<Diagnosis>('/v1/operator/signature-doctor', {
              url: url.value.trim(),
              params: parseParams(params.value),
              signature: signature.value.trim(),
              ...(token.value ? { token: token.value } : {}),
            });
            replace(
              result,
              h(
                'section',
                { class: `card verdict ${answer.match ? 'ok' : 'bad'}`, 'aria-labelledby': 'verdict-title' },
                h(
                  'h2',
                  { id: 'verdict-title' },
                  answer.match ? 'The signature matches' : answer.causes.length > 1 ? 'No match — several causes' : 'No match',
                ),
                answer.causes.length > 0
                  ? h(
                      'ul',
                      { class: 'causes' },
                      answer.causes.map((cause) => h('li', { 'data-cause': cause }, CAUSES[cause] ?? cause)),
                    )
                  : null,
                h('p', {}, answer.explanation),
                answer.matchingUrl ? h('p', {}, 'URL that matches: ', h('code', {}, answer.matchingUrl)) : null,
                answer.secretId ? h('p', { class: 'help' }, `Matched with: ${answer.secretId}`) : null,
              ),
            );
          } catch (error) {
            replace(result, h('p', { class: 'error', role: 'alert' }, `Could not diagnose: ${(error as Error).message}`));
          }
        },
      },
      field('doctor-url', 'URL the server verified against', url, 'As received or rebuilt by the server, with its query.'),
      field('doctor-params', 'Form parameters', params, 'One Name=Value per line, or the raw body a=1&b=2.'),
      field('doctor-signature', 'X-Twilio-Signature', signature),
      field('doctor-token', 'Auth token (optional)', token, 'Empty: the tokens this Roomgate is configured with are tried.'),
      h('button', { type: 'submit' }, 'Diagnose'),
    ),
    result,
  );
};
