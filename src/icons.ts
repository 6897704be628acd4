import { LabIcon } from '@jupyterlab/ui-components';

// Small stroke icons; `jp-icon3` lets the theme colour them.
const svg = (body: string) =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24"><g class="jp-icon3" fill="none" stroke="#616161" stroke-width="2" stroke-linecap="round">${body}</g></svg>`;

export const zoomInIcon = new LabIcon({
  name: 'jupyterlab-uga:zoom-in',
  svgstr: svg('<circle cx="10" cy="10" r="6"/><path d="M14.5 14.5L20 20M10 7v6M7 10h6"/>')
});

export const zoomOutIcon = new LabIcon({
  name: 'jupyterlab-uga:zoom-out',
  svgstr: svg('<circle cx="10" cy="10" r="6"/><path d="M14.5 14.5L20 20M7 10h6"/>')
});

export const zoomFitIcon = new LabIcon({
  name: 'jupyterlab-uga:zoom-fit',
  svgstr: svg('<path d="M4 9V4h5M15 4h5v5M20 15v5h-5M9 20H4v-5"/>')
});

export const uncertaintyIcon = new LabIcon({
  name: 'jupyterlab-uga:uncertainty',
  svgstr: svg('<path d="M3 12h3l3-7 4 14 3-7h5"/>')
});
