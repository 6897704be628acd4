// Minimal typings for the parts of @cornerstonejs/codec-openjpeg we use (the package ships none).
declare module '@cornerstonejs/codec-openjpeg/decodewasmjs' {
  import type { OpenJpegFactory } from './jpeg2000';
  const factory: OpenJpegFactory;
  export default factory;
}
declare module '@cornerstonejs/codec-openjpeg/decode' {
  import type { OpenJpegFactory } from './jpeg2000';
  const factory: OpenJpegFactory;
  export default factory;
}
