import './base.css';
import './editor.css';
